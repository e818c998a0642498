pub mod home;
pub mod hello;
pub mod page;
