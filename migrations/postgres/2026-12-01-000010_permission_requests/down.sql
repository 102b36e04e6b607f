DROP TABLE permission_requests;
