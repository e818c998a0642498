mod home;
mod page;
