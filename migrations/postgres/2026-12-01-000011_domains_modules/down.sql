DROP TABLE member_module_revocations;
DROP TABLE modules;
DROP TABLE domains;
