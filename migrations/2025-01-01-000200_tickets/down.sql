DROP TABLE subscribers;
DROP TABLE responders;
DROP TABLE tickets;
