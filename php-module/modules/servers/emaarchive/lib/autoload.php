<?php

declare(strict_types=1);

/*
 * Loads the module's classes (namespace WHMCS\Module\Server\EmaArchive => lib/). WHMCS also
 * autoloads module lib/ folders; this keeps the module independent of how WHMCS maps the
 * namespace's case to the folder name, and lets the tests run without Composer.
 */
spl_autoload_register(static function (string $class): void {
    $prefix = 'WHMCS\\Module\\Server\\EmaArchive\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require_once $file;
    }
});
