<?php
/**
 * WordPress → Marginalia: a post's life (publish, update, unpublish, trash, untrash, delete) as
 * signed article events, and the resync of every post.
 *
 * @package Marginalia
 */

defined( 'ABSPATH' ) || exit;

/**
 * Turns post changes into article events.
 */
final class Marginalia_Articles {

	/** Hooks the post lifecycle and the resync action in. */
	public static function register() {
		add_action( 'transition_post_status', array( __CLASS__, 'transition' ), 10, 3 );
		add_action( 'before_delete_post', array( __CLASS__, 'deleted' ), 10, 1 );
		add_action( 'admin_post_marginalia_resync', array( __CLASS__, 'resync' ) );
	}

	/**
	 * The article id Marginalia knows a post by.
	 *
	 * @param int $post_id The post.
	 * @return string
	 */
	public static function article_id( $post_id ) {
		return 'wp-' . (int) $post_id;
	}

	/**
	 * The post an article id names, or 0.
	 *
	 * @param string $article_id An article id.
	 * @return int
	 */
	public static function post_id( $article_id ) {
		return preg_match( '/^wp-([1-9][0-9]{0,18})$/', (string) $article_id, $match ) ? (int) $match[1] : 0;
	}

	/**
	 * The article as the event describes it.
	 *
	 * @param WP_Post $post The post.
	 * @return array
	 */
	public static function describe( WP_Post $post ) {
		$categories = get_the_category( $post->ID );
		$data       = array(
			'article_id'   => self::article_id( $post->ID ),
			'title'        => wp_strip_all_tags( get_the_title( $post ) ),
			'url'          => get_permalink( $post ),
			'language'     => Marginalia_Settings::language(),
			'published_at' => get_post_time( 'Y-m-d\TH:i:s\Z', true, $post ),
			'reviews_open' => 'closed' !== get_post_meta( $post->ID, '_marginalia_reviews', true ),
		);
		if ( ! empty( $categories ) ) {
			$data['section'] = $categories[0]->name;
		}
		return $data;
	}

	/**
	 * Publishing, changing, unpublishing, trashing and untrashing a post.
	 *
	 * @param string  $new_status The post's status now.
	 * @param string  $old_status Its status before.
	 * @param WP_Post $post       The post.
	 */
	public static function transition( $new_status, $old_status, $post ) {
		if ( ! $post instanceof WP_Post || ! Marginalia_Settings::covers( $post->post_type ) || wp_is_post_revision( $post ) ) {
			return;
		}
		$article_id = self::article_id( $post->ID );
		if ( 'publish' === $new_status ) {
			$first = 'publish' !== $old_status;
			Marginalia_Queue::event( $first ? 'article.published' : 'article.updated', self::describe( $post ) );
			$moderation = (string) Marginalia_Settings::get( 'moderation' );
			if ( $first && '' !== $moderation && ! get_post_meta( $post->ID, '_marginalia_moderation_sent', true ) ) {
				Marginalia_Queue::article_settings( $article_id, array( 'moderation' => $moderation ) );
				update_post_meta( $post->ID, '_marginalia_moderation_sent', $moderation );
			}
		} elseif ( 'trash' === $new_status ) {
			Marginalia_Queue::event( 'article.deleted', array( 'article_id' => $article_id ) );
		} elseif ( 'publish' === $old_status || 'trash' === $old_status ) {
			// Unpublished, or back from the trash as a draft: known to Marginalia, not public.
			Marginalia_Queue::event( 'article.unpublished', array( 'article_id' => $article_id ) );
		}
	}

	/**
	 * A post deleted for good (also from the trash).
	 *
	 * @param int $post_id The post.
	 */
	public static function deleted( $post_id ) {
		$post = get_post( $post_id );
		if ( ! $post instanceof WP_Post || ! Marginalia_Settings::covers( $post->post_type ) || wp_is_post_revision( $post ) ) {
			return;
		}
		if ( in_array( $post->post_status, array( 'publish', 'trash', 'private', 'draft', 'pending', 'future' ), true ) ) {
			Marginalia_Queue::event( 'article.deleted', array( 'article_id' => self::article_id( $post_id ) ) );
		}
	}

	/** Settings → Marginalia → Resync all posts: every published post again, as it is now. */
	public static function resync() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not resync Marginalia.', 'marginalia' ), 403 );
		}
		check_admin_referer( 'marginalia_resync' );
		$count = 0;
		Marginalia_Queue::batch(
			function () use ( &$count ) {
				$count = self::resync_all();
			}
		);
		wp_safe_redirect( add_query_arg( 'marginalia_resynced', $count, admin_url( 'options-general.php?page=' . Marginalia_Settings::PAGE ) ) );
		exit;
	}

	/**
	 * Queues `article.published` for every published post of the covered types.
	 *
	 * @return int How many.
	 */
	public static function resync_all() {
		$count = 0;
		$page  = 1;
		do {
			$posts = get_posts(
				array(
					'post_type'      => (array) Marginalia_Settings::get( 'post_types' ),
					'post_status'    => 'publish',
					'posts_per_page' => 100,
					'paged'          => $page,
					'orderby'        => 'ID',
					'order'          => 'ASC',
				)
			);
			foreach ( $posts as $post ) {
				Marginalia_Queue::event( 'article.published', self::describe( $post ) );
				++$count;
			}
			++$page;
		} while ( count( $posts ) === 100 );
		return $count;
	}
}
