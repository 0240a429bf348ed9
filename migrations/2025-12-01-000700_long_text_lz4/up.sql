-- Long texts compressed with LZ4 instead of pglz. A list page sends its tickets whole, and
-- PostgreSQL decompresses every compressed text it sends: pglz was 3 % of all the CPU time
-- of a requester's list under load. The same 25 rows: 0.11-0.12 ms with pglz, 0.09 ms with
-- LZ4 (pgbench, one client), at the same size.
--
-- Values keep the method they were written with until they are written again; new and
-- edited texts use LZ4. A PostgreSQL before 14 (no per-column compression) or built
-- without LZ4 (it is in the Debian and Docker builds) keeps pglz rather than failing the
-- migration. EXECUTE, so that an older server never parses the new syntax.
DO $$
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RAISE NOTICE 'PostgreSQL before 14: long texts stay compressed with pglz';
        RETURN;
    END IF;
    EXECUTE 'ALTER TABLE tickets
        ALTER COLUMN background SET COMPRESSION lz4,
        ALTER COLUMN connections SET COMPRESSION lz4,
        ALTER COLUMN sources SET COMPRESSION lz4,
        ALTER COLUMN business_activities SET COMPRESSION lz4,
        ALTER COLUMN initial_information SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE comments ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL without LZ4: long texts stay compressed with pglz';
END
$$;
