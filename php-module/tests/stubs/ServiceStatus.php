<?php

/*
 * Stand-in for WHMCS\Service\Status. The Server Sync docs
 * (https://developers.whmcs.com/provisioning-modules/server-sync/) ask ListAccounts to return
 * Status::ACTIVE or Status::SUSPENDED; the values are WHMCS's service status names as stored in
 * tblhosting.domainstatus and shown in the admin area.
 */

declare(strict_types=1);

namespace WHMCS\Service;

if (!class_exists(Status::class)) {
    class Status
    {
        public const PENDING = 'Pending';
        public const ACTIVE = 'Active';
        public const SUSPENDED = 'Suspended';
        public const TERMINATED = 'Terminated';
        public const CANCELLED = 'Cancelled';
        public const FRAUD = 'Fraud';
        public const COMPLETED = 'Completed';
    }
}
