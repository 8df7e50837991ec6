//! A faithful simulation of the Qontak Omnichannel open API.
