//! Black-box tests over real HTTP, each on SQLite and on PostgreSQL.

mod contract;
mod smtp;
mod support;

mod access;
mod at_rest;
mod basic;
mod bursts;
mod checks;
mod closing;
mod concurrency;
mod customer;
mod edge;
mod edge_routes;
mod embedding;
mod hostile;
mod idempotency;
mod indexes;
mod invite;
mod limits;
mod lists;
mod locks;
mod logs;
mod lookups;
mod matrix;
mod openapi;
mod openapi_constraints;
mod ops;
mod pages;
mod retention;
mod rules;
mod schema;
mod scim;
mod slow;
mod text;
mod user;
