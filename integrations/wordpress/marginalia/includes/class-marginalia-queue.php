<?php
/**
 * What the plugin sends to Marginalia, kept in a table of its own until Marginalia has taken it:
 * each message is sent at once, and on failure again by WP-Cron with growing pauses, with the same
 * `webhook-id` and bytes every time, so an outage of Marginalia loses nothing.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * The outbox of messages to Marginalia.
 */
final class Marginalia_Queue {

	const CRON_HOOK = 'marginalia_deliver';
	const SCHEDULE  = 'marginalia_every_minute';
	const LOCK      = 'marginalia_delivery_lock';
	/** Longest pause between two attempts, in seconds. */
	const MAX_PAUSE = 3600;
	/** Attempts after which the settings page and the admin notice report the message. */
	const REPORT_AFTER = 3;

	/** Inside `batch`: messages are stored, and sent together at its end. */
	private static $holding = false;

	/** The table's name. */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'marginalia_outbox';
	}

	/** Creates the table (activation and upgrades). */
	public static function install() {
		global $wpdb;
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$table   = self::table();
		$charset = $wpdb->get_charset_collate();
		dbDelta(
			"CREATE TABLE {$table} (
				id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
				message_id varchar(64) NOT NULL,
				kind varchar(16) NOT NULL,
				path varchar(255) NOT NULL,
				body longtext NOT NULL,
				attempts int(10) unsigned NOT NULL DEFAULT 0,
				next_at bigint(20) unsigned NOT NULL,
				last_error text NULL,
				failed tinyint(1) NOT NULL DEFAULT 0,
				created_at bigint(20) unsigned NOT NULL,
				PRIMARY KEY  (id),
				KEY due (failed, next_at)
			) {$charset};"
		);
		if ( ! wp_next_scheduled( self::CRON_HOOK ) ) {
			wp_schedule_event( time() + 60, self::SCHEDULE, self::CRON_HOOK );
		}
	}

	/** Stops the schedule (deactivation); queued messages stay for a later activation. */
	public static function uninstall_schedule() {
		wp_clear_scheduled_hook( self::CRON_HOOK );
	}

	/** Hooks the schedule, the delivery and the notices in. */
	public static function register() {
		add_filter( 'cron_schedules', array( __CLASS__, 'add_schedule' ) );
		add_action( self::CRON_HOOK, array( __CLASS__, 'deliver_due' ) );
		add_action( 'admin_notices', array( __CLASS__, 'notice' ) );
	}

	/**
	 * A one-minute WP-Cron schedule.
	 *
	 * @param array $schedules WordPress's schedules.
	 * @return array
	 */
	public static function add_schedule( $schedules ) {
		$schedules[ self::SCHEDULE ] = array(
			'interval' => 60,
			'display'  => __( 'Every minute (Marginalia)', 'marginalia' ),
		);
		return $schedules;
	}

	/**
	 * Queues a signed article event for `POST /v1/webhooks/cms` and tries to send it now.
	 *
	 * @param string $type The event type (`article.published`, …).
	 * @param array  $data The article as the event describes it.
	 */
	public static function event( $type, array $data ) {
		$body = wp_json_encode(
			array(
				'type'      => $type,
				'timestamp' => gmdate( 'Y-m-d\TH:i:s\Z' ),
				'data'      => $data,
			)
		);
		self::add( 'event', '/v1/webhooks/cms', $body );
	}

	/**
	 * Queues an editorial setting of an article for `PATCH /v1/articles/{id}` (with the API key).
	 *
	 * @param string $article_id The article.
	 * @param array  $settings   The members to change.
	 */
	public static function article_settings( $article_id, array $settings ) {
		self::add( 'settings', '/v1/articles/' . rawurlencode( $article_id ), wp_json_encode( $settings ) );
	}

	/**
	 * Stores a message and sends what is due.
	 *
	 * @param string $kind `event` or `settings`.
	 * @param string $path The API path.
	 * @param string $body The exact bytes to send.
	 */
	private static function add( $kind, $path, $body ) {
		global $wpdb;
		$now = time();
		$wpdb->insert(
			self::table(),
			array(
				'message_id' => 'msg_' . str_replace( '-', '', wp_generate_uuid4() ),
				'kind'       => $kind,
				'path'       => $path,
				'body'       => $body,
				'next_at'    => $now,
				'created_at' => $now,
			),
			array( '%s', '%s', '%s', '%s', '%d', '%d' )
		);
		if ( ! self::$holding ) {
			self::deliver_due();
		}
	}

	/**
	 * Queues what `$queue` queues, then sends it (a resync of every post is one delivery run).
	 *
	 * @param callable $queue Queues the messages.
	 */
	public static function batch( callable $queue ) {
		self::$holding = true;
		try {
			$queue();
		} finally {
			self::$holding = false;
		}
		self::deliver_due();
	}

	/**
	 * Sends every due message, oldest first, one sender at a time; a message that fails waits
	 * longer each time (1, 2, 4 … minutes, at most an hour) and is never dropped: only an answer
	 * saying the message itself is wrong (400, 413, 415, 422) marks it failed, for the settings
	 * page to show.
	 */
	public static function deliver_due() {
		global $wpdb;
		if ( ! self::lock() ) {
			return;
		}
		try {
			$table = self::table();
			$due   = $wpdb->get_results(
				$wpdb->prepare( "SELECT * FROM {$table} WHERE failed = 0 AND next_at <= %d ORDER BY id LIMIT 50", time() ) // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
			);
			foreach ( $due as $message ) {
				$outcome = self::send( $message );
				if ( true === $outcome ) {
					$wpdb->delete( $table, array( 'id' => $message->id ), array( '%d' ) );
					continue;
				}
				list( $error, $permanent ) = $outcome;
				$attempts                  = (int) $message->attempts + 1;
				$wpdb->update(
					$table,
					array(
						'attempts'   => $attempts,
						'next_at'    => time() + min( self::MAX_PAUSE, 60 * ( 2 ** min( $attempts - 1, 6 ) ) ),
						'last_error' => $error,
						'failed'     => $permanent ? 1 : 0,
					),
					array( 'id' => $message->id ),
					array( '%d', '%d', '%s', '%d' ),
					array( '%d' )
				);
			}
		} finally {
			delete_option( self::LOCK );
		}
	}

	/**
	 * One sender at a time across requests and WP-Cron (an option row is the lock; one older
	 * than five minutes is taken over, its holder having died).
	 */
	private static function lock() {
		if ( add_option( self::LOCK, time(), '', 'no' ) ) {
			return true;
		}
		$since = (int) get_option( self::LOCK );
		if ( $since > 0 && time() - $since > 300 ) {
			update_option( self::LOCK, time(), 'no' );
			return true;
		}
		return false;
	}

	/**
	 * Sends one message.
	 *
	 * @param object $message A row of the table.
	 * @return true|array True when Marginalia took it; else the error and whether it is final.
	 */
	private static function send( $message ) {
		$headers = array( 'Content-Type' => 'application/json' );
		if ( 'event' === $message->kind ) {
			$timestamp = time();
			$signature = Marginalia_Signature::sign( Marginalia_Settings::get( 'cms_secret' ), $message->message_id, $timestamp, $message->body );
			if ( null === $signature ) {
				return array( __( 'No signing secret is set.', 'marginalia' ), false );
			}
			$headers += array(
				'webhook-id'        => $message->message_id,
				'webhook-timestamp' => (string) $timestamp,
				'webhook-signature' => $signature,
			);
			$method = 'POST';
		} else {
			$key = (string) Marginalia_Settings::get( 'api_key' );
			if ( '' === $key ) {
				return array( __( 'No API key is set.', 'marginalia' ), false );
			}
			$headers['Authorization'] = 'Bearer ' . $key;
			$method                   = 'PATCH';
		}
		if ( '' === (string) Marginalia_Settings::get( 'service_url' ) ) {
			return array( __( 'No service URL is set.', 'marginalia' ), false );
		}
		$response = wp_remote_request(
			Marginalia_Settings::api_url( $message->path ),
			array(
				'method'      => $method,
				'headers'     => $headers,
				'body'        => $message->body,
				'timeout'     => 5,
				'redirection' => 0,
			)
		);
		if ( is_wp_error( $response ) ) {
			return array( $response->get_error_message(), false );
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		if ( $status >= 200 && $status < 300 ) {
			return true;
		}
		$detail = substr( (string) wp_remote_retrieve_body( $response ), 0, 500 );
		return array( $status . ' ' . $detail, in_array( $status, array( 400, 413, 415, 422 ), true ) );
	}

	/**
	 * Messages waiting after several attempts or failed, newest error first.
	 *
	 * @return object[]
	 */
	public static function troubles() {
		global $wpdb;
		$table = self::table();
		return $wpdb->get_results(
			$wpdb->prepare( "SELECT message_id, path, attempts, last_error, failed FROM {$table} WHERE failed = 1 OR attempts >= %d ORDER BY id DESC LIMIT 20", self::REPORT_AFTER ) // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		);
	}

	/** Messages waiting. */
	public static function waiting() {
		global $wpdb;
		$table = self::table();
		return (int) $wpdb->get_var( "SELECT COUNT(*) FROM {$table} WHERE failed = 0" ); // phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared
	}

	/** The admin notice when deliveries fail, for those who may fix the settings. */
	public static function notice() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$troubles = self::troubles();
		if ( empty( $troubles ) ) {
			return;
		}
		$settings = admin_url( 'options-general.php?page=' . Marginalia_Settings::PAGE );
		printf(
			'<div class="notice notice-error marginalia-notice"><p>%s <a href="%s">%s</a></p></div>',
			esc_html( sprintf( /* translators: 1: count, 2: the last error */ __( 'Marginalia: %1$d article events are not delivered (last error: %2$s).', 'marginalia' ), count( $troubles ), $troubles[0]->last_error ) ),
			esc_url( $settings ),
			esc_html__( 'Settings', 'marginalia' )
		);
	}

	/** The queue's state on the settings page. */
	public static function render_status() {
		$waiting = self::waiting();
		echo '<p class="marginalia-queue">' . esc_html( sprintf( /* translators: %d: messages waiting */ _n( '%d message waiting for Marginalia.', '%d messages waiting for Marginalia.', $waiting, 'marginalia' ), $waiting ) ) . '</p>';
		foreach ( self::troubles() as $trouble ) {
			echo '<p class="marginalia-trouble"><code>' . esc_html( $trouble->path ) . '</code> ' . esc_html( sprintf( /* translators: 1: attempts, 2: error */ __( '%1$d attempts: %2$s', 'marginalia' ), $trouble->attempts, $trouble->last_error ) ) . '</p>';
		}
	}
}
