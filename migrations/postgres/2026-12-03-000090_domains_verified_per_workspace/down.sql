DROP INDEX domains_domain;
CREATE UNIQUE INDEX domains_verified ON domains(domain) WHERE status = 'verified';
