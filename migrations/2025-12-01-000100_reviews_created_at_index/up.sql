-- Review statistics (BEHAVIOUR §6.3) always filter reviews on `created_at` (a default window
-- of three months when the client sends none). The index covers what they then read, so the
-- window is an index-only range instead of a scan of every review.
CREATE INDEX reviews_created_at_idx ON reviews (created_at) INCLUDE (ticket_id, rating);
