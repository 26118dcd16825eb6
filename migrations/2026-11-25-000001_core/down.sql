DROP TABLE api_keys;
DROP TABLE article_stats;
DROP TABLE reviews;
DROP TABLE articles;
