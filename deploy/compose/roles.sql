-- Run once by the postgres image when its data directory is new, as the owner (a superuser
-- in this image): the application role the migrations grant to, and the service's login.
CREATE ROLE gateway_app NOLOGIN;
CREATE ROLE gateway_service LOGIN PASSWORD 'gateway_service' IN ROLE gateway_app;
