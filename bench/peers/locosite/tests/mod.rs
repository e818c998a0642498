mod requests;
mod tasks;
mod views;
mod workers;
