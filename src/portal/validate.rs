//! OPS-07 in the transaction core: every record a request reads is checked before any run sees
//! it. The record's key says its type; the type's [`Validate`](crate::validate::Validate) says whether it is possible under
//! the policy at the request's instant; the key says whose it is (an account stored under
//! another user's key is refused). A record that fails is [`StoreError::Corrupt`](crate::store::StoreError::Corrupt): the request
//! commits nothing and sends nothing. The checks are
//! [`crate::validate::record`], public so a host can run them too.

pub(crate) use crate::validate::record;
