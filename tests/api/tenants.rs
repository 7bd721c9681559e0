//! Tenant lifecycle through the REST API.
