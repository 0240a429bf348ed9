DROP INDEX reviews_created_at_idx;
