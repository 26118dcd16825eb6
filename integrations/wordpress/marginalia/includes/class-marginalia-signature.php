<?php
/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): what Marginalia checks on the
 * events this plugin sends, and what this plugin checks on the events Marginalia sends.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * Signs and verifies messages with `whsec_` secrets.
 */
final class Marginalia_Signature {

	/** How far a message's timestamp may be from this server's clock, in seconds. */
	const TOLERANCE = 300;

	/**
	 * The key bytes of a `whsec_` secret, or null when it is not one (the base64 of 24 to 64
	 * bytes, as Marginalia generates them).
	 *
	 * @param string $secret The secret as configured.
	 * @return string|null
	 */
	public static function key( $secret ) {
		$secret = trim( (string) $secret );
		if ( 0 !== strpos( $secret, 'whsec_' ) ) {
			return null;
		}
		$bytes = base64_decode( substr( $secret, 6 ), true );
		if ( false === $bytes || strlen( $bytes ) < 24 || strlen( $bytes ) > 64 ) {
			return null;
		}
		return $bytes;
	}

	/**
	 * The `webhook-signature` header value of a message.
	 *
	 * @param string $secret    A `whsec_` secret.
	 * @param string $id        The message id (`webhook-id`).
	 * @param int    $timestamp Seconds since the epoch (`webhook-timestamp`).
	 * @param string $body      The exact bytes sent.
	 * @return string|null Null when the secret is not a `whsec_` secret.
	 */
	public static function sign( $secret, $id, $timestamp, $body ) {
		$key = self::key( $secret );
		if ( null === $key ) {
			return null;
		}
		$mac = hash_hmac( 'sha256', $id . '.' . $timestamp . '.' . $body, $key, true );
		return 'v1,' . base64_encode( $mac );
	}

	/**
	 * Whether a received message is signed by one of the secrets and recent. Every signature of
	 * the header is tried against every secret (either side may be rotating).
	 *
	 * @param string[] $secrets   The secrets accepted.
	 * @param string   $id        The `webhook-id` header.
	 * @param string   $timestamp The `webhook-timestamp` header.
	 * @param string   $header    The `webhook-signature` header.
	 * @param string   $body      The raw body.
	 * @param int      $now       This server's clock.
	 * @return bool
	 */
	public static function verify( array $secrets, $id, $timestamp, $header, $body, $now ) {
		if ( '' === $id || ! preg_match( '/^[0-9]{1,12}$/', (string) $timestamp ) ) {
			return false;
		}
		if ( abs( $now - (int) $timestamp ) > self::TOLERANCE ) {
			return false;
		}
		foreach ( $secrets as $secret ) {
			$expected = self::sign( $secret, $id, (int) $timestamp, $body );
			if ( null === $expected ) {
				continue;
			}
			foreach ( preg_split( '/\s+/', trim( (string) $header ) ) as $signature ) {
				if ( hash_equals( $expected, $signature ) ) {
					return true;
				}
			}
		}
		return false;
	}
}
