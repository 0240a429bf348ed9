-- Every profile a document shows carries its `tickets-count` (§1.1): the sum of the
-- profile's eight counter stripes. Those eight rows lie on as many heap pages, so a
-- ticket page naming 56 profiles read about 450 pages for them (0.47 ms of a 2 ms request).
-- With `n` in the primary key's leaf the sum is an index-only scan: one leaf page per
-- profile (0.27 ms).
--
-- The cost is on the writers: an update of `n` is no longer HOT and writes a new index
-- entry. The counters move only when somebody starts or stops taking part in a ticket,
-- far more rarely than profiles are shown. (`ticket_activity_counts` moves with every
-- comment, so it stays as it is.)
ALTER TABLE profile_ticket_counts
    DROP CONSTRAINT profile_ticket_counts_pkey,
    ADD CONSTRAINT profile_ticket_counts_pkey PRIMARY KEY (profile_id, slot) INCLUDE (n);
