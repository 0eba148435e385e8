//! Black-box tests over real HTTP, each on SQLite and on PostgreSQL.

mod smtp;
mod support;

mod accounts;
mod apikeys;
mod edge;
mod openapi;
mod matrix;
mod organizations;
mod rules;
mod scenarios;
