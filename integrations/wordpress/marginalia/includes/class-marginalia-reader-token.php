<?php
/**
 * Reader tokens (docs/readers.md): the short-lived HS256 JSON Web Token that tells Marginalia a
 * review comes from one of this site's logged-in users, with their name and badges. Signed with
 * PHP's own hash_hmac, so the plugin needs no JWT library; Marginalia verifies it.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * Builds and signs reader tokens.
 */
final class Marginalia_Reader_Token {

	/** How long a token is good for, in seconds: enough to write a review, too short to hoard. */
	const LIFETIME = 600;

	/** The secret's length in bytes, as Marginalia accepts it (shorter is guessable offline). */
	const SECRET_MIN_BYTES = 32;
	const SECRET_MAX_BYTES = 512;

	/** Marginalia's limits on the claims: a token over them is refused whole (`bad_claims`). */
	const NAME_MAX_CHARS = 100;
	const MAX_BADGES     = 10;

	/**
	 * Whether a configured secret has a length Marginalia accepts.
	 *
	 * @param string $secret The secret, as the site's reader_tokens.secrets holds it.
	 * @return bool
	 */
	public static function is_secret( $secret ) {
		$bytes = strlen( (string) $secret );
		return $bytes >= self::SECRET_MIN_BYTES && $bytes <= self::SECRET_MAX_BYTES;
	}

	/**
	 * Whether a text is a badge: a lowercase slug of a-z, 0-9, - and _, at most 32 characters.
	 *
	 * @param string $badge The text.
	 * @return bool
	 */
	public static function is_badge( $badge ) {
		return 1 === preg_match( '/^[a-z0-9_-]{1,32}$/D', (string) $badge );
	}

	/**
	 * The claims for a WordPress user: `sub` is `wp-<user ID>` (stable: IDs are never reused),
	 * `name` their display name, `badges` what their roles map to.
	 *
	 * @param WP_User               $user     The logged-in user.
	 * @param array<string, string> $mapping  Role => badge, as the settings hold it.
	 * @param string                $audience The `aud` the Marginalia site expects.
	 * @param int                   $now      Seconds since the epoch.
	 * @return array<string, mixed>
	 */
	public static function claims( WP_User $user, array $mapping, $audience, $now ) {
		$claims = array(
			'sub' => 'wp-' . $user->ID,
			'aud' => (string) $audience,
			'exp' => $now + self::LIFETIME,
		);
		$name = self::name( (string) $user->display_name );
		if ( '' !== $name ) {
			$claims['name'] = $name;
		}
		$badges = array();
		foreach ( (array) $user->roles as $role ) {
			if ( isset( $mapping[ $role ] ) ) {
				$badges[] = $mapping[ $role ];
			}
		}
		$claims['badges'] = array_slice( array_values( array_unique( $badges ) ), 0, self::MAX_BADGES );
		return $claims;
	}

	/**
	 * A display name as Marginalia takes it: valid UTF-8 without control characters, trimmed, at
	 * most 100 characters (counted in Unicode NFC, as Marginalia counts them, when PHP has intl).
	 * Empty when nothing is left, and then the token carries no name at all (an empty one would be
	 * refused).
	 *
	 * @param string $name The user's display name.
	 * @return string
	 */
	private static function name( $name ) {
		$name = wp_check_invalid_utf8( $name, true );
		if ( class_exists( 'Normalizer' ) ) {
			$name = (string) Normalizer::normalize( $name, Normalizer::FORM_C );
		}
		$name = self::trim( (string) preg_replace( '/\p{Cc}+/u', ' ', $name ) );
		return self::trim( mb_substr( $name, 0, self::NAME_MAX_CHARS, 'UTF-8' ) );
	}

	/**
	 * Unicode white space trimmed from both ends, as Marginalia trims before it counts (PHP's trim
	 * knows ASCII only: a name of ideographic spaces would be empty there, and refused).
	 *
	 * @param string $text The text.
	 * @return string
	 */
	private static function trim( $text ) {
		return (string) preg_replace( '/^[\s\p{Z}]+|[\s\p{Z}]+$/u', '', $text );
	}

	/**
	 * The signed token (`header.payload.signature`, each part base64url without padding).
	 *
	 * @param array<string, mixed> $claims The claims.
	 * @param string               $secret The HS256 secret, its bytes as configured.
	 * @return string
	 */
	public static function sign( array $claims, $secret ) {
		$flags   = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
		$signing = self::base64url( (string) wp_json_encode( array( 'alg' => 'HS256', 'typ' => 'JWT' ), $flags ) )
			. '.' . self::base64url( (string) wp_json_encode( $claims, $flags ) );
		return $signing . '.' . self::base64url( hash_hmac( 'sha256', $signing, (string) $secret, true ) );
	}

	/**
	 * Base64url without padding (RFC 7515, section 2).
	 *
	 * @param string $bytes The bytes.
	 * @return string
	 */
	private static function base64url( $bytes ) {
		return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' );
	}
}
