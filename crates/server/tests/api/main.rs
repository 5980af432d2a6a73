//! Integration tests of the REST service over real HTTP on 127.0.0.1 (and a few through
//! the router directly): jobs, validation errors, limits, auth, the OpenAPI document.

#![allow(clippy::disallowed_methods, reason = "deadlines for jobs under test")]

mod common;
mod errors;
mod first_hour;
mod fuzz;
mod hardening;
mod jobs;
mod models;
mod openapi;
mod portfolio;
mod rules;
