//! Black-box tests over real HTTP, each on SQLite and on PostgreSQL.

mod contract;
mod smtp;
mod support;

mod access;
mod accounts;
mod apikeys;
mod concurrency;
mod edge;
mod hardening;
mod indexes;
mod logs;
mod mail;
mod matrix;
mod openapi;
mod ops;
mod organizations;
mod rules;
mod scenarios;
