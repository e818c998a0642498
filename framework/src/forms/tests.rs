//! Binding each field type, valid and invalid.
