pub mod app;
pub mod controllers;
pub mod data;
pub mod initializers;
pub mod tasks;
pub mod views;
pub mod workers;
