<?php
/**
 * Reader sign-in: `GET /wp-json/marginalia/v1/reader-token` hands the widget on this site's own
 * pages a reader token for the user whose WordPress login cookie the browser sends. Registered
 * only while a reader-token secret is set (Settings → Marginalia). docs/wordpress.md explains
 * why the route reads the login cookie itself and refuses every request from another origin
 * instead of asking for WordPress's REST nonce.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * The reader-token route.
 */
final class Marginalia_Readers {

	const ROUTE = '/reader-token';

	/** Hooks the route in. */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'route' ) );
	}

	/**
	 * Whether reader sign-in is on: a secret is set.
	 *
	 * @return bool
	 */
	public static function enabled() {
		return '' !== (string) Marginalia_Settings::get( 'reader_secret' );
	}

	/**
	 * The route's URL, as the widget fetches it.
	 *
	 * @return string
	 */
	public static function token_url() {
		return rest_url( Marginalia_Receiver::ROUTE_NAMESPACE . self::ROUTE );
	}

	/** The route, while reader sign-in is on. */
	public static function route() {
		if ( ! self::enabled() ) {
			return;
		}
		register_rest_route(
			Marginalia_Receiver::ROUTE_NAMESPACE,
			self::ROUTE,
			array(
				'methods'             => 'GET',
				'callback'            => array( __CLASS__, 'token' ),
				// Open to everyone: nobody logged in is an answer (204), not a refusal, and the
				// origin check below has to run before anything about a user is looked at.
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * 200 `{"token": …}` for a logged-in user, 204 for nobody, 403 for another origin's page;
	 * never stored by a cache.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public static function token( WP_REST_Request $request ) {
		if ( ! self::same_origin( $request ) ) {
			$answer = rest_convert_error_to_response(
				new WP_Error( 'marginalia_cross_origin', __( 'Reader tokens are only given to this site\'s own pages.', 'marginalia' ), array( 'status' => 403 ) )
			);
		} else {
			// Without a REST nonce WordPress treats a cookie-carrying REST request as anonymous
			// (current user 0), so the login cookie is read here, with WordPress's own check
			// (signature, expiry and the session still open: a logged-out cookie is no login).
			$user   = get_userdata( (int) wp_validate_auth_cookie( '', 'logged_in' ) );
			$answer = $user instanceof WP_User
				? new WP_REST_Response( array( 'token' => self::sign_for( $user ) ), 200 )
				: new WP_REST_Response( null, 204 );
		}
		// A token is one user's: no shared cache may keep it, nor keep "nobody" for a user.
		$answer->header( 'Cache-Control', 'no-store, private' );
		return $answer;
	}

	/**
	 * A token for a user, with the settings' audience and role → badge mapping.
	 *
	 * @param WP_User $user The user.
	 * @return string
	 */
	private static function sign_for( WP_User $user ) {
		$claims = Marginalia_Reader_Token::claims( $user, Marginalia_Settings::reader_badges(), Marginalia_Settings::reader_audience(), time() );
		return Marginalia_Reader_Token::sign( $claims, (string) Marginalia_Settings::get( 'reader_secret' ) );
	}

	/**
	 * Whether nothing in the request says it comes from another origin's page. WordPress answers
	 * REST requests with `Access-Control-Allow-Origin` set to whatever `Origin` asked for, with
	 * credentials, so any site could read a token if this check did not refuse it. Browsers send
	 * `Origin` with every cross-origin fetch (`null` after a cross-origin redirect) and modern ones
	 * `Sec-Fetch-Site` with every request; `Referer`, when sent, must be ours too. A request with
	 * none of them is not a cross-origin fetch (curl, a same-origin GET from a browser without
	 * Fetch Metadata, or a `<script>` of another page without a referrer in such a browser), and
	 * its JSON answer is readable only by whoever holds the cookie already, unless WordPress wraps
	 * it in JSONP (`?_jsonp=`), which would make that `<script>` run it: JSONP is refused.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return bool
	 */
	private static function same_origin( WP_REST_Request $request ) {
		if ( array_key_exists( '_jsonp', $request->get_query_params() ) ) {
			return false;
		}
		$fetch_site = $request->get_header( 'sec-fetch-site' );
		// `none`: the user opened the URL themselves (address bar, bookmark), in their own tab.
		if ( null !== $fetch_site && ! in_array( $fetch_site, array( 'same-origin', 'none' ), true ) ) {
			return false;
		}
		$ours = array( self::origin( home_url( '/' ) ), self::origin( site_url( '/' ) ) );
		foreach ( array( 'origin', 'referer' ) as $header ) {
			$value = $request->get_header( $header );
			if ( null !== $value && ! in_array( self::origin( $value ), $ours, true ) ) {
				return false;
			}
		}
		return true;
	}

	/**
	 * A URL's origin, `scheme://host[:port]` in lower case without a default port; '' for
	 * anything else (such as `null`), which matches no origin of ours.
	 *
	 * @param string $url The URL.
	 * @return string
	 */
	private static function origin( $url ) {
		$parts = wp_parse_url( trim( (string) $url ) );
		if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] ) ) {
			return '';
		}
		$scheme  = strtolower( $parts['scheme'] );
		$default = array(
			'http'  => 80,
			'https' => 443,
		);
		$port    = isset( $parts['port'] ) && ( ! isset( $default[ $scheme ] ) || $default[ $scheme ] !== $parts['port'] ) ? ':' . $parts['port'] : '';
		return $scheme . '://' . strtolower( $parts['host'] ) . $port;
	}
}
