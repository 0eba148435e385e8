DROP TABLE departures;
DROP TABLE domains;
