//! The deployment files. `docker-compose.yml` is parsed and held to the deployment rules of
//! the security notes; the nginx template is rendered as the nginx image renders it and run
//! in the real nginx (Debian's package) in front of the real app. No Docker engine is needed.

mod compose;
mod nginx;
