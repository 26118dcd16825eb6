/* The "Marginalia reviews" block in the editor: a placeholder; the page shows the widget
 * (rendered on the server, as the [marginalia_reviews] shortcode). */
( function ( blocks, element, i18n ) {
	blocks.registerBlockType( 'marginalia/reviews', {
		title: i18n.__( 'Marginalia reviews', 'marginalia' ),
		icon: 'star-half',
		category: 'widgets',
		supports: { html: false, multiple: false },
		edit: function () {
			return element.createElement(
				'p',
				{ className: 'marginalia-block-placeholder' },
				i18n.__( 'Readers’ ratings and reviews appear here.', 'marginalia' )
			);
		},
		save: function () {
			return null;
		},
	} );
} )( window.wp.blocks, window.wp.element, window.wp.i18n );
