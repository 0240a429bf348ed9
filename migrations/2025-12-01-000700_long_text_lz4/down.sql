DO $$
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RETURN;
    END IF;
    EXECUTE 'ALTER TABLE tickets
        ALTER COLUMN background SET COMPRESSION DEFAULT,
        ALTER COLUMN connections SET COMPRESSION DEFAULT,
        ALTER COLUMN sources SET COMPRESSION DEFAULT,
        ALTER COLUMN business_activities SET COMPRESSION DEFAULT,
        ALTER COLUMN initial_information SET COMPRESSION DEFAULT';
    EXECUTE 'ALTER TABLE comments ALTER COLUMN body SET COMPRESSION DEFAULT';
END
$$;
