<?php
/**
 * Plugin Name: Closed network (tests only)
 * Description: WordPress as a newsroom runs it on a machine without outbound access: no update or
 * translation checks (Debian's packages are updated by apt), no pingbacks, trackbacks or update
 * pings, no version checks of the browser or PHP on the dashboard. What still tries to leave the
 * machine is recorded and refused by loopback-guard.php, and fails the test.
 */

// Core, plugin, theme and translation update checks, and automatic updates.
foreach ( array( '_maybe_update_core', '_maybe_update_plugins', '_maybe_update_themes' ) as $check ) {
	remove_action( 'admin_init', $check );
}
foreach ( array( 'wp_version_check', 'wp_update_plugins', 'wp_update_themes' ) as $check ) {
	remove_action( $check, $check );
	wp_clear_scheduled_hook( $check );
	foreach ( array( 'load-plugins.php', 'load-themes.php', 'load-update.php', 'load-update-core.php' ) as $page ) {
		remove_action( $page, $check );
	}
}
remove_action( 'wp_maybe_auto_update', 'wp_maybe_auto_update' );
remove_action( 'init', 'wp_schedule_update_checks' );
add_filter( 'automatic_updater_disabled', '__return_true' );

// Pingbacks, trackbacks, enclosures and the update services (ping-o-matic) on publishing.
remove_action( 'do_pings', 'do_all_pings', 10 );
add_filter( 'pre_option_ping_sites', '__return_empty_string' );
add_filter( 'pre_option_default_pingback_flag', '__return_zero' );
add_filter( 'pre_option_default_ping_status', fn () => 'closed' );

// The dashboard's "is this browser / PHP up to date" checks ask api.wordpress.org: answered here.
add_filter(
	'pre_site_transient_php_check_' . md5( PHP_VERSION ),
	fn () => array(
		'recommended_version' => PHP_VERSION,
		'minimum_version'     => PHP_VERSION,
		'is_supported'        => true,
		'is_secure'           => true,
		'is_acceptable'       => true,
	)
);
if ( isset( $_SERVER['HTTP_USER_AGENT'] ) ) {
	add_filter(
		'pre_site_transient_browser_' . md5( (string) $_SERVER['HTTP_USER_AGENT'] ),
		fn () => array(
			'upgrade'  => false,
			'insecure' => false,
		)
	);
}
// The dashboard's WordPress Events and News feed.
add_action(
	'wp_dashboard_setup',
	function () {
		remove_meta_box( 'dashboard_primary', 'dashboard', 'side' );
	}
);

// Avatars come from gravatar.com: Settings → Discussion → Show Avatars off.
add_filter( 'pre_option_show_avatars', '__return_zero' );
