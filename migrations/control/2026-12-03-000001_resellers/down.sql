DROP TABLE whmcs_keys;
DROP TABLE resellers;
