<?php
/**
 * Marginalia → WordPress: the REST route Marginalia's webhook endpoint posts review events to.
 * Each message is checked (Standard Webhooks signature by one of the endpoint's secrets, at most
 * five minutes old, its id not seen before) before it changes anything; then the post's rating
 * count and average, and the newsroom's replies, follow.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * Receives review and stats events.
 */
final class Marginalia_Receiver {

	const ROUTE_NAMESPACE = 'marginalia/v1';
	const ROUTE           = '/events';

	/** Hooks the route in. */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'route' ) );
	}

	/** `POST /wp-json/marginalia/v1/events`, open to Marginalia: the signature is the check. */
	public static function route() {
		register_rest_route(
			self::ROUTE_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'receive' ),
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * One message from Marginalia.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function receive( WP_REST_Request $request ) {
		$id   = (string) $request->get_header( 'webhook-id' );
		$body = $request->get_body();
		$ok   = Marginalia_Signature::verify(
			Marginalia_Settings::webhook_secrets(),
			$id,
			(string) $request->get_header( 'webhook-timestamp' ),
			(string) $request->get_header( 'webhook-signature' ),
			$body,
			time()
		);
		if ( ! $ok ) {
			return new WP_Error( 'marginalia_signature', __( 'The message is not signed by Marginalia, or too old.', 'marginalia' ), array( 'status' => 401 ) );
		}
		// Remembered for longer than a signature stays valid: a replay within it changes nothing.
		$seen = 'marginalia_seen_' . md5( $id );
		if ( get_transient( $seen ) ) {
			return new WP_REST_Response( array( 'outcome' => 'already_processed' ), 200 );
		}
		$message = json_decode( $body, true );
		if ( ! is_array( $message ) || ! isset( $message['type'], $message['data'] ) || ! is_array( $message['data'] ) ) {
			return new WP_Error( 'marginalia_body', __( 'The message is not a Marginalia event.', 'marginalia' ), array( 'status' => 400 ) );
		}
		$post_id = Marginalia_Articles::post_id( isset( $message['data']['article_id'] ) ? $message['data']['article_id'] : '' );
		$post    = $post_id ? get_post( $post_id ) : null;
		if ( $post instanceof WP_Post && Marginalia_Settings::covers( $post->post_type ) ) {
			$at = isset( $message['timestamp'] ) ? strtotime( (string) $message['timestamp'] ) : time();
			if ( 'article.stats_changed' === $message['type'] ) {
				self::stats( $post_id, $message['data'], (int) $at );
			} elseif ( 0 === strpos( (string) $message['type'], 'review.' ) ) {
				self::reply( $post_id, $message['data'] );
			}
		}
		set_transient( $seen, 1, 2 * Marginalia_Signature::TOLERANCE );
		return new WP_REST_Response( array( 'outcome' => 'applied' ), 200 );
	}

	/**
	 * The article's published counts, unless newer ones were kept already.
	 *
	 * @param int   $post_id The post.
	 * @param array $stats   The event's data.
	 * @param int   $at      When Marginalia counted them.
	 */
	private static function stats( $post_id, array $stats, $at ) {
		if ( (int) get_post_meta( $post_id, '_marginalia_stats_at', true ) > $at ) {
			return;
		}
		$count   = isset( $stats['review_count'] ) ? max( 0, (int) $stats['review_count'] ) : 0;
		$average = isset( $stats['average'] ) && is_numeric( $stats['average'] ) ? round( (float) $stats['average'], 2 ) : 0;
		update_post_meta( $post_id, '_marginalia_review_count', $count );
		update_post_meta( $post_id, '_marginalia_rating_average', $average );
		update_post_meta( $post_id, '_marginalia_stats_at', $at );
	}

	/**
	 * The newsroom's reply to a review, kept by review id (removed with the reply or the review).
	 *
	 * @param int   $post_id The post.
	 * @param array $review  The review as the event shows it.
	 */
	private static function reply( $post_id, array $review ) {
		if ( empty( $review['id'] ) || ! is_string( $review['id'] ) ) {
			return;
		}
		$replies = get_post_meta( $post_id, '_marginalia_replies', true );
		$replies = is_array( $replies ) ? $replies : array();
		$reply   = isset( $review['reply'] ) && is_array( $review['reply'] ) ? $review['reply'] : null;
		$public  = isset( $review['status'] ) && 'published' === $review['status'];
		if ( $public && $reply && isset( $reply['body'] ) ) {
			$replies[ $review['id'] ] = array(
				'body'       => (string) $reply['body'],
				'author'     => isset( $reply['author'] ) ? (string) $reply['author'] : '',
				'updated_at' => isset( $reply['updated_at'] ) ? (string) $reply['updated_at'] : '',
			);
		} else {
			unset( $replies[ $review['id'] ] );
		}
		update_post_meta( $post_id, '_marginalia_replies', $replies );
	}
}
