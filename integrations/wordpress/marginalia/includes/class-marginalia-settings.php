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
	const SECRETS = array( 'cms_secret', 'webhook_secrets', 'api_key', 'reader_secret' );

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
				'reader_secret'    => '',
				'reader_audience'  => '',
				// No badge until the newsroom maps a role: badges are shown publicly.
				'reader_badges'    => array(),
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
	 * The `aud` of reader tokens: the setting, else Marginalia's default for the site.
	 *
	 * @return string
	 */
	public static function reader_audience() {
		$audience = (string) self::get( 'reader_audience' );
		return '' !== $audience ? $audience : 'marginalia:' . self::get( 'site' );
	}

	/**
	 * Role => badge, for reader tokens.
	 *
	 * @return array<string, string>
	 */
	public static function reader_badges() {
		return (array) self::get( 'reader_badges' );
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
		return self::sanitize_readers( $input, $current, $clean );
	}

	/**
	 * The reader sign-in part of the form: the secret (write-only; a box forgets it, which turns
	 * reader sign-in off), the audience and the role → badge mapping.
	 *
	 * @param array<string, mixed> $input   The submitted values.
	 * @param array<string, mixed> $current The stored settings.
	 * @param array<string, mixed> $clean   The settings checked so far.
	 * @return array<string, mixed>
	 */
	private static function sanitize_readers( array $input, array $current, array $clean ) {
		$secret = isset( $input['reader_secret'] ) ? trim( (string) $input['reader_secret'] ) : '';
		if ( ! empty( $input['reader_secret_forget'] ) ) {
			$clean['reader_secret'] = '';
		} elseif ( '' !== $secret ) {
			if ( Marginalia_Reader_Token::is_secret( $secret ) ) {
				$clean['reader_secret'] = $secret;
			} else {
				self::refuse( 'reader_secret', __( 'The reader-token secret must be 32 to 512 bytes long, as Marginalia accepts it.', 'marginalia' ) );
			}
		}

		$audience = isset( $input['reader_audience'] ) ? trim( (string) $input['reader_audience'] ) : '';
		if ( mb_strlen( $audience, 'UTF-8' ) <= 200 && ! preg_match( '/\p{Cc}/u', $audience ) && wp_check_invalid_utf8( $audience ) === $audience ) {
			$clean['reader_audience'] = $audience;
		} else {
			self::refuse( 'reader_audience', __( 'The audience is at most 200 characters, without control characters.', 'marginalia' ) );
		}

		$badges                 = isset( $input['reader_badges'] ) && is_array( $input['reader_badges'] ) ? $input['reader_badges'] : array();
		$clean['reader_badges'] = array();
		foreach ( array_keys( wp_roles()->get_names() ) as $role ) {
			$badge = isset( $badges[ $role ] ) ? trim( (string) $badges[ $role ] ) : '';
			if ( Marginalia_Reader_Token::is_badge( $badge ) ) {
				$clean['reader_badges'][ $role ] = $badge;
			} elseif ( '' !== $badge ) {
				if ( isset( $current['reader_badges'][ $role ] ) ) {
					$clean['reader_badges'][ $role ] = $current['reader_badges'][ $role ];
				}
				/* translators: %s: a user role's name */
				self::refuse( 'reader_badges_' . $role, sprintf( __( 'The badge of the role %s must be a lowercase slug: a-z, 0-9, - and _, at most 32 characters.', 'marginalia' ), $role ) );
			}
		}
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
				<?php self::render_readers( $settings ); ?>
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
	 * The reader sign-in section: logged-in users review under their name, with badges.
	 *
	 * @param array<string, mixed> $settings The stored settings.
	 */
	private static function render_readers( array $settings ) {
		$name = self::OPTION;
		?>
		<h2><?php esc_html_e( 'Reader sign-in', 'marginalia' ); ?></h2>
		<p><?php esc_html_e( 'Logged-in users review under their display name, with the badges of their roles, marked as verified. Marginalia checks the tokens this site signs for them with the same secret, set in the site\'s reader_tokens.', 'marginalia' ); ?></p>
		<table class="form-table" role="presentation">
			<?php self::secret_row( 'reader_secret', __( 'Reader-token secret', 'marginalia' ), __( '32 to 512 bytes, exactly as in the Marginalia site\'s reader_tokens secrets. Empty: reader sign-in is off.', 'marginalia' ) ); ?>
			<?php if ( '' !== (string) $settings['reader_secret'] ) : ?>
				<tr>
					<th scope="row"></th>
					<td><label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[reader_secret_forget]" value="1"> <?php esc_html_e( 'Forget the secret (turns reader sign-in off)', 'marginalia' ); ?></label></td>
				</tr>
			<?php endif; ?>
			<tr>
				<th scope="row"><label for="marginalia-reader-audience"><?php esc_html_e( 'Audience', 'marginalia' ); ?></label></th>
				<td><input id="marginalia-reader-audience" class="regular-text code" type="text" name="<?php echo esc_attr( $name ); ?>[reader_audience]" value="<?php echo esc_attr( $settings['reader_audience'] ); ?>" placeholder="<?php echo esc_attr( 'marginalia:' . $settings['site'] ); ?>">
				<p class="description"><?php esc_html_e( 'The aud of the tokens: the site\'s reader_tokens audience. Empty: Marginalia\'s default for the site.', 'marginalia' ); ?></p></td>
			</tr>
			<tr>
				<th scope="row"><?php esc_html_e( 'Badges by role', 'marginalia' ); ?></th>
				<td><fieldset>
				<?php foreach ( wp_roles()->get_names() as $role => $label ) : ?>
					<?php $id = 'marginalia-reader-badge-' . sanitize_html_class( $role ); ?>
					<label for="<?php echo esc_attr( $id ); ?>"><?php echo esc_html( translate_user_role( $label ) ); ?></label>
					<input id="<?php echo esc_attr( $id ); ?>" class="code" type="text" maxlength="32" name="<?php echo esc_attr( $name . '[reader_badges][' . $role . ']' ); ?>" value="<?php echo esc_attr( isset( $settings['reader_badges'][ $role ] ) ? $settings['reader_badges'][ $role ] : '' ); ?>"><br>
				<?php endforeach; ?>
				<p class="description"><?php esc_html_e( 'The badge shown with the reviews of users of each role (a lowercase slug such as subscriber or staff); empty for none.', 'marginalia' ); ?></p>
				</fieldset></td>
			</tr>
		</table>
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
