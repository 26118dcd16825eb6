<?php
/**
 * Plugin Name: Loopback guard (tests only)
 * Description: Records every HTTP request WordPress makes to anything but loopback, and refuses it;
 * tests/wordpress/drive.py fails the run if the record is not empty.
 */

add_filter(
	'pre_http_request',
	function ( $answer, $args, $url ) {
		$host = strtolower( (string) wp_parse_url( $url, PHP_URL_HOST ) );
		if ( in_array( $host, array( '127.0.0.1', 'localhost', '[::1]', '::1' ), true ) ) {
			return $answer;
		}
		file_put_contents( WP_CONTENT_DIR . '/outside-requests.log', gmdate( 'c' ) . ' ' . $url . ' from ' . wp_debug_backtrace_summary() . "\n", FILE_APPEND | LOCK_EX );
		return new WP_Error( 'loopback_guard', 'Tests send nothing outside this machine.' );
	},
	0,
	3
);
