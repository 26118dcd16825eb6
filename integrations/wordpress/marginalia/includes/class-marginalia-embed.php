<?php
/**
 * On the page: the reviews widget in single posts (a shortcode, a block, and below the content
 * by option), the rating in the posts list, and WordPress's own comments off where asked.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * The widget and the admin columns.
 */
final class Marginalia_Embed {

	/** Whether the widget was printed on this page already (once per page). */
	private static $embedded = false;

	/** Hooks everything in. */
	public static function register() {
		add_shortcode( 'marginalia_reviews', array( __CLASS__, 'shortcode' ) );
		add_action( 'init', array( __CLASS__, 'block' ) );
		add_filter( 'the_content', array( __CLASS__, 'below_content' ), 20 );
		add_filter( 'comments_open', array( __CLASS__, 'comments_open' ), 20, 2 );
		add_filter( 'pings_open', array( __CLASS__, 'comments_open' ), 20, 2 );
		add_action( 'admin_init', array( __CLASS__, 'columns' ) );
		add_action( 'pre_get_posts', array( __CLASS__, 'sort_by_rating' ) );
	}

	/**
	 * The widget's markup for a post (its article id, the site, the language), and with reader
	 * sign-in on, where the widget gets the reader's token and where a reader signs in. Both are
	 * the same for every visitor, so a page cache may keep the markup.
	 *
	 * @param int $post_id The post.
	 * @return string
	 */
	public static function widget( $post_id ) {
		$base = untrailingslashit( (string) Marginalia_Settings::get( 'service_url' ) );
		if ( '' === $base || self::$embedded ) {
			return '';
		}
		self::$embedded = true;
		$readers        = '';
		if ( Marginalia_Readers::enabled() ) {
			$readers = sprintf(
				' data-reader-token-url="%1$s" data-sign-in-url="%2$s"',
				esc_url( Marginalia_Readers::token_url() ),
				// Back to the reviews of this post once logged in.
				esc_url( wp_login_url( get_permalink( $post_id ) . '#marginalia-reviews' ) )
			);
		}
		return sprintf(
			'<div id="marginalia-reviews" lang="%1$s"></div><script src="%2$s" data-site="%3$s" data-article-id="%4$s"%5$s async></script>',
			esc_attr( Marginalia_Settings::language() ),
			esc_url( $base . '/widget.js' ),
			esc_attr( Marginalia_Settings::get( 'site' ) ),
			esc_attr( Marginalia_Articles::article_id( $post_id ) ),
			$readers
		);
	}

	/**
	 * `[marginalia_reviews]` in a post's content.
	 *
	 * @return string
	 */
	public static function shortcode() {
		$post = get_post();
		return ( $post instanceof WP_Post && 'publish' === $post->post_status ) ? self::widget( $post->ID ) : '';
	}

	/** The "Marginalia reviews" block: rendered on the server, the same markup as the shortcode. */
	public static function block() {
		if ( ! function_exists( 'register_block_type' ) ) {
			return;
		}
		wp_register_script(
			'marginalia-block',
			plugins_url( 'block.js', MARGINALIA_PLUGIN_FILE ),
			array( 'wp-blocks', 'wp-element', 'wp-i18n' ),
			MARGINALIA_VERSION,
			true
		);
		register_block_type(
			'marginalia/reviews',
			array(
				'editor_script'   => 'marginalia-block',
				'render_callback' => array( __CLASS__, 'shortcode' ),
			)
		);
	}

	/**
	 * The widget below a single post's content, when the setting asks for it.
	 *
	 * @param string $content The post's content.
	 * @return string
	 */
	public static function below_content( $content ) {
		$post = get_post();
		if ( ! Marginalia_Settings::get( 'auto_embed' ) || ! is_singular() || ! in_the_loop() || ! is_main_query()
			|| ! $post instanceof WP_Post || ! Marginalia_Settings::covers( $post->post_type ) || 'publish' !== $post->post_status ) {
			return $content;
		}
		return $content . self::widget( $post->ID );
	}

	/**
	 * WordPress's comments and pings closed on the posts Marginalia covers, when asked.
	 *
	 * @param bool        $open    Whether they are open.
	 * @param int|WP_Post $post_id The post.
	 * @return bool
	 */
	public static function comments_open( $open, $post_id ) {
		$post = get_post( $post_id );
		if ( Marginalia_Settings::get( 'disable_comments' ) && $post instanceof WP_Post && Marginalia_Settings::covers( $post->post_type ) ) {
			return false;
		}
		return $open;
	}

	/** The Rating column in the lists of covered post types, sortable. */
	public static function columns() {
		foreach ( (array) Marginalia_Settings::get( 'post_types' ) as $type ) {
			add_filter( "manage_{$type}_posts_columns", array( __CLASS__, 'add_column' ) );
			add_action( "manage_{$type}_posts_custom_column", array( __CLASS__, 'column' ), 10, 2 );
			add_filter( "manage_edit-{$type}_sortable_columns", array( __CLASS__, 'sortable' ) );
		}
	}

	/**
	 * Adds the column.
	 *
	 * @param array $columns The list's columns.
	 * @return array
	 */
	public static function add_column( $columns ) {
		$columns['marginalia_rating'] = __( 'Rating', 'marginalia' );
		return $columns;
	}

	/**
	 * A post's average and count, e.g. "4.5 (12)".
	 *
	 * @param string $column  The column.
	 * @param int    $post_id The post.
	 */
	public static function column( $column, $post_id ) {
		if ( 'marginalia_rating' !== $column ) {
			return;
		}
		$count = (int) get_post_meta( $post_id, '_marginalia_review_count', true );
		if ( 0 === $count ) {
			echo '<span aria-hidden="true">—</span><span class="screen-reader-text">' . esc_html__( 'No reviews', 'marginalia' ) . '</span>';
			return;
		}
		$average = (float) get_post_meta( $post_id, '_marginalia_rating_average', true );
		echo '<span class="marginalia-rating">' . esc_html( sprintf( /* translators: 1: average rating, 2: count */ _n( '%1$s (%2$d review)', '%1$s (%2$d reviews)', $count, 'marginalia' ), number_format_i18n( $average, 1 ), $count ) ) . '</span>';
	}

	/**
	 * Makes the column sortable.
	 *
	 * @param array $columns The sortable columns.
	 * @return array
	 */
	public static function sortable( $columns ) {
		$columns['marginalia_rating'] = 'marginalia_rating';
		return $columns;
	}

	/**
	 * Sorting the list by rating: by the average, posts without reviews last.
	 *
	 * @param WP_Query $query The list's query.
	 */
	public static function sort_by_rating( $query ) {
		if ( is_admin() && $query->is_main_query() && 'marginalia_rating' === $query->get( 'orderby' ) ) {
			$query->set(
				'meta_query',
				array(
					'relation' => 'OR',
					'rated'    => array(
						'key'     => '_marginalia_rating_average',
						'type'    => 'DECIMAL(3,2)',
						'compare' => 'EXISTS',
					),
					'unrated'  => array(
						'key'     => '_marginalia_rating_average',
						'compare' => 'NOT EXISTS',
					),
				)
			);
			$query->set( 'orderby', array( 'rated' => $query->get( 'order' ) ? $query->get( 'order' ) : 'DESC' ) );
		}
	}
}
