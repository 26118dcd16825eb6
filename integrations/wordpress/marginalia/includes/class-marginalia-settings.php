<?php
/**
 * The plugin's settings (Settings → Marginalia), stored with the Settings API in one option.
 * Secrets are write-only: the page never prints them, and a secret field left empty keeps the
 * stored value.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * Reads, checks and shows the settings.
 */
final class Marginalia_Settings {

	const OPTION = 'marginalia_settings';
	const PAGE   = 'marginalia';

	/** Settings whose values are never shown back. */
	const SECRETS = array( 'cms_secret', 'webhook_secrets', 'api_key' );

	/**
	 * The settings with their defaults.
	 *
	 * @return array<string, mixed>
	 */
	public static function all() {
		$stored = get_option( self::OPTION, array() );
		return array_merge(
			array(
				'service_url'      => '',
				'site'             => 'default',
				'cms_secret'       => '',
				'webhook_secrets'  => '',
				'api_key'          => '',
				'post_types'       => array( 'post' ),
				'moderation'       => '',
				'language'         => '',
				'auto_embed'       => true,
				'disable_comments' => false,
			),
			is_array( $stored ) ? $stored : array()
		);
	}

	/**
	 * One setting.
	 *
	 * @param string $name The setting's name.
	 * @return mixed
	 */
	public static function get( $name ) {
		$all = self::all();
		return isset( $all[ $name ] ) ? $all[ $name ] : null;
	}

	/**
	 * The URL of one of the site's API paths (`/v1/…`): under `/sites/{site}` for a site other
	 * than the default one.
	 *
	 * @param string $path A path beginning with `/v1/`.
	 * @return string
	 */
	public static function api_url( $path ) {
		$base = untrailingslashit( (string) self::get( 'service_url' ) );
		$site = (string) self::get( 'site' );
		$site_prefix = ( '' === $site || 'default' === $site ) ? '' : '/sites/' . rawurlencode( $site );
		return $base . $site_prefix . $path;
	}

	/**
	 * The secrets Marginalia's events may be signed with, one per line of the setting.
	 *
	 * @return string[]
	 */
	public static function webhook_secrets() {
		$lines = preg_split( '/\s+/', (string) self::get( 'webhook_secrets' ) );
		return array_values( array_filter( $lines, array( 'Marginalia_Signature', 'key' ) ) );
	}

	/**
	 * The language of the site's articles (ISO 639-1): the setting, else the site's locale.
	 *
	 * @return string
	 */
	public static function language() {
		$language = (string) self::get( 'language' );
		return '' !== $language ? $language : strtolower( substr( get_locale(), 0, 2 ) );
	}

	/**
	 * Whether the plugin looks after posts of this type.
	 *
	 * @param string $post_type A post type.
	 * @return bool
	 */
	public static function covers( $post_type ) {
		return in_array( $post_type, (array) self::get( 'post_types' ), true );
	}

	/** Hooks the page and the setting in. */
	public static function register() {
		add_action( 'admin_init', array( __CLASS__, 'register_setting' ) );
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ) );
	}

	/** Registers the option and its sanitizer. */
	public static function register_setting() {
		register_setting(
			self::PAGE,
			self::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize' ),
				'show_in_rest'      => false,
			)
		);
	}

	/** Adds Settings → Marginalia. */
	public static function add_page() {
		add_options_page(
			__( 'Marginalia reviews', 'marginalia' ),
			__( 'Marginalia', 'marginalia' ),
			'manage_options',
			self::PAGE,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * Checks what the form sent; a wrong value keeps the stored one and says why.
	 *
	 * @param mixed $input The submitted values.
	 * @return array<string, mixed>
	 */
	public static function sanitize( $input ) {
		$current = self::all();
		$input   = is_array( $input ) ? wp_unslash( $input ) : array();
		$clean   = $current;

		$url = isset( $input['service_url'] ) ? trim( (string) $input['service_url'] ) : '';
		if ( '' === $url || preg_match( '#^https?://[^/\s]+(/[^\s]*)?$#', $url ) ) {
			$clean['service_url'] = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
		} else {
			self::refuse( 'service_url', __( 'The service URL must begin with http:// or https://.', 'marginalia' ) );
		}

		$site = isset( $input['site'] ) ? trim( (string) $input['site'] ) : 'default';
		if ( preg_match( '/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/', $site ) ) {
			$clean['site'] = $site;
		} else {
			self::refuse( 'site', __( 'The site is its id in Marginalia: lowercase letters, digits and inner hyphens.', 'marginalia' ) );
		}

		$cms_secret = isset( $input['cms_secret'] ) ? trim( (string) $input['cms_secret'] ) : '';
		if ( '' !== $cms_secret ) {
			if ( null !== Marginalia_Signature::key( $cms_secret ) ) {
				$clean['cms_secret'] = $cms_secret;
			} else {
				self::refuse( 'cms_secret', __( 'The signing secret must be a whsec_… secret.', 'marginalia' ) );
			}
		}

		$webhook_secrets = isset( $input['webhook_secrets'] ) ? trim( (string) $input['webhook_secrets'] ) : '';
		if ( '' !== $webhook_secrets ) {
			$lines = preg_split( '/\s+/', $webhook_secrets );
			if ( count( $lines ) === count( array_filter( $lines, array( 'Marginalia_Signature', 'key' ) ) ) ) {
				$clean['webhook_secrets'] = implode( "\n", $lines );
			} else {
				self::refuse( 'webhook_secrets', __( 'Each endpoint secret must be a whsec_… secret, one per line.', 'marginalia' ) );
			}
		}

		$api_key = isset( $input['api_key'] ) ? trim( (string) $input['api_key'] ) : '';
		if ( '' !== $api_key ) {
			$clean['api_key'] = sanitize_text_field( $api_key );
		}

		$types               = isset( $input['post_types'] ) ? (array) $input['post_types'] : array();
		$public              = get_post_types( array( 'public' => true ) );
		$clean['post_types'] = array_values( array_intersect( array_map( 'strval', $types ), $public ) );

		$moderation          = isset( $input['moderation'] ) ? (string) $input['moderation'] : '';
		$clean['moderation'] = in_array( $moderation, array( '', 'pre', 'post' ), true ) ? $moderation : '';

		$language = isset( $input['language'] ) ? strtolower( trim( (string) $input['language'] ) ) : '';
		if ( '' === $language || preg_match( '/^[a-z]{2}$/', $language ) ) {
			$clean['language'] = $language;
		} else {
			self::refuse( 'language', __( 'The language is a two-letter ISO 639-1 code, or empty for the site\'s.', 'marginalia' ) );
		}

		$clean['auto_embed']       = ! empty( $input['auto_embed'] );
		$clean['disable_comments'] = ! empty( $input['disable_comments'] );
		return $clean;
	}

	/**
	 * Shows a refused value's reason above the form.
	 *
	 * @param string $field   The setting.
	 * @param string $message Why it was refused.
	 */
	private static function refuse( $field, $message ) {
		add_settings_error( self::OPTION, 'marginalia_' . $field, $message );
	}

	/** The settings page. */
	public static function render() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$settings = self::all();
		$name     = self::OPTION;
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'Marginalia reviews', 'marginalia' ); ?></h1>
			<?php
			// Only a count to show, from the resync's own redirect: nothing is changed by it.
			$resynced = isset( $_GET['marginalia_resynced'] ) ? absint( $_GET['marginalia_resynced'] ) : null; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			if ( null !== $resynced ) {
				/* translators: %d: how many posts */
				echo '<div class="notice notice-success"><p>' . esc_html( sprintf( _n( 'Resync: %d post queued for Marginalia.', 'Resync: %d posts queued for Marginalia.', $resynced, 'marginalia' ), $resynced ) ) . '</p></div>';
			}
			Marginalia_Queue::render_status();
			?>
			<form method="post" action="options.php">
				<?php settings_fields( self::PAGE ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="marginalia-service-url"><?php esc_html_e( 'Service URL', 'marginalia' ); ?></label></th>
						<td><input id="marginalia-service-url" class="regular-text code" type="url" name="<?php echo esc_attr( $name ); ?>[service_url]" value="<?php echo esc_attr( $settings['service_url'] ); ?>" placeholder="https://reviews.example.org">
						<p class="description"><?php esc_html_e( 'Where Marginalia runs, as readers\' browsers reach it.', 'marginalia' ); ?></p></td>
					</tr>
					<tr>
						<th scope="row"><label for="marginalia-site"><?php esc_html_e( 'Site', 'marginalia' ); ?></label></th>
						<td><input id="marginalia-site" class="regular-text code" type="text" name="<?php echo esc_attr( $name ); ?>[site]" value="<?php echo esc_attr( $settings['site'] ); ?>">
						<p class="description"><?php esc_html_e( 'This publication\'s site id in Marginalia (default for an installation of one site).', 'marginalia' ); ?></p></td>
					</tr>
					<?php
					self::secret_row( 'cms_secret', __( 'Signing secret', 'marginalia' ), __( 'The whsec_… secret Marginalia checks this site\'s article events with (its cms_secrets).', 'marginalia' ) );
					self::secret_row( 'webhook_secrets', __( 'Endpoint secrets', 'marginalia' ), __( 'The secret of the webhook endpoint Marginalia sends review events to; during a rotation, the new one on a second line.', 'marginalia' ), true );
					self::secret_row( 'api_key', __( 'API key', 'marginalia' ), __( 'A key with scope cms, for article settings such as the moderation mode.', 'marginalia' ) );
					?>
					<tr>
						<th scope="row"><?php esc_html_e( 'Post types', 'marginalia' ); ?></th>
						<td><fieldset>
						<?php foreach ( get_post_types( array( 'public' => true ), 'objects' ) as $type ) : ?>
							<label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[post_types][]" value="<?php echo esc_attr( $type->name ); ?>" <?php checked( in_array( $type->name, (array) $settings['post_types'], true ) ); ?>> <?php echo esc_html( $type->labels->name ); ?></label><br>
						<?php endforeach; ?>
						</fieldset></td>
					</tr>
					<tr>
						<th scope="row"><label for="marginalia-moderation"><?php esc_html_e( 'Moderation of new articles', 'marginalia' ); ?></label></th>
						<td><select id="marginalia-moderation" name="<?php echo esc_attr( $name ); ?>[moderation]">
							<option value="" <?php selected( $settings['moderation'], '' ); ?>><?php esc_html_e( 'The site\'s', 'marginalia' ); ?></option>
							<option value="pre" <?php selected( $settings['moderation'], 'pre' ); ?>><?php esc_html_e( 'Before publishing (pre)', 'marginalia' ); ?></option>
							<option value="post" <?php selected( $settings['moderation'], 'post' ); ?>><?php esc_html_e( 'After publishing (post)', 'marginalia' ); ?></option>
						</select></td>
					</tr>
					<tr>
						<th scope="row"><label for="marginalia-language"><?php esc_html_e( 'Language', 'marginalia' ); ?></label></th>
						<td><input id="marginalia-language" class="small-text code" type="text" maxlength="2" name="<?php echo esc_attr( $name ); ?>[language]" value="<?php echo esc_attr( $settings['language'] ); ?>" placeholder="<?php echo esc_attr( strtolower( substr( get_locale(), 0, 2 ) ) ); ?>"></td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'On the page', 'marginalia' ); ?></th>
						<td><fieldset>
							<label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[auto_embed]" value="1" <?php checked( $settings['auto_embed'] ); ?>> <?php esc_html_e( 'Show the reviews below the content of each post', 'marginalia' ); ?></label><br>
							<label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[disable_comments]" value="1" <?php checked( $settings['disable_comments'] ); ?>> <?php esc_html_e( 'Turn WordPress comments off for these posts', 'marginalia' ); ?></label>
						</fieldset></td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="marginalia_resync">
				<?php wp_nonce_field( 'marginalia_resync' ); ?>
				<?php submit_button( __( 'Resync all posts', 'marginalia' ), 'secondary' ); ?>
			</form>
			<p><?php echo esc_html( sprintf( /* translators: %s: the URL Marginalia sends events to */ __( 'Register this endpoint in Marginalia: %s', 'marginalia' ), rest_url( 'marginalia/v1/events' ) ) ); ?></p>
		</div>
		<?php
	}

	/**
	 * A write-only field: says whether a value is stored, never what it is.
	 *
	 * @param string $key         The setting.
	 * @param string $label       Its label.
	 * @param string $description What it is for.
	 * @param bool   $multiline   A textarea (several secrets).
	 */
	private static function secret_row( $key, $label, $description, $multiline = false ) {
		$id     = 'marginalia-' . str_replace( '_', '-', $key );
		$field  = self::OPTION . '[' . $key . ']';
		$stored = '' !== (string) self::get( $key );
		?>
		<tr>
			<th scope="row"><label for="<?php echo esc_attr( $id ); ?>"><?php echo esc_html( $label ); ?></label></th>
			<td>
				<?php if ( $multiline ) : ?>
					<textarea id="<?php echo esc_attr( $id ); ?>" class="large-text code" rows="2" name="<?php echo esc_attr( $field ); ?>" autocomplete="off"></textarea>
				<?php else : ?>
					<input id="<?php echo esc_attr( $id ); ?>" class="regular-text code" type="password" name="<?php echo esc_attr( $field ); ?>" value="" autocomplete="off">
				<?php endif; ?>
				<p class="description"><?php echo esc_html( $description ); ?>
				<?php echo esc_html( $stored ? __( 'A value is stored; leave empty to keep it.', 'marginalia' ) : __( 'Not set.', 'marginalia' ) ); ?></p>
			</td>
		</tr>
		<?php
	}
}
