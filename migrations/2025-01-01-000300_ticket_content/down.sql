DROP TABLE reviews;
DROP TABLE expenses;
DROP TABLE attachments;
DROP TABLE comments;
