ALTER TABLE profile_ticket_counts
    DROP CONSTRAINT profile_ticket_counts_pkey,
    ADD CONSTRAINT profile_ticket_counts_pkey PRIMARY KEY (profile_id, slot);
