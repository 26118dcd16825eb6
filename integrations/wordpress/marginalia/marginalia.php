<?php
/**
 * Plugin Name:       Marginalia reviews
 * Description:       Reader ratings and reviews from a self-hosted Marginalia service: posts become Marginalia articles, the reviews widget shows on them, and ratings come back into the posts list.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      8.0
 * License:           MIT
 * Text Domain:       marginalia
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

define( 'MARGINALIA_VERSION', '0.1.0' );
define( 'MARGINALIA_PLUGIN_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-marginalia-signature.php';
require_once __DIR__ . '/includes/class-marginalia-reader-token.php';
require_once __DIR__ . '/includes/class-marginalia-settings.php';
require_once __DIR__ . '/includes/class-marginalia-queue.php';
require_once __DIR__ . '/includes/class-marginalia-articles.php';
require_once __DIR__ . '/includes/class-marginalia-receiver.php';
require_once __DIR__ . '/includes/class-marginalia-readers.php';
require_once __DIR__ . '/includes/class-marginalia-embed.php';

register_activation_hook( __FILE__, array( 'Marginalia_Queue', 'install' ) );
register_deactivation_hook( __FILE__, array( 'Marginalia_Queue', 'uninstall_schedule' ) );

Marginalia_Settings::register();
Marginalia_Queue::register();
Marginalia_Articles::register();
Marginalia_Receiver::register();
Marginalia_Readers::register();
Marginalia_Embed::register();
