DROP TABLE profile_identities;
DROP TABLE profiles;
