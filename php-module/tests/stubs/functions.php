<?php

declare(strict_types=1);

/*
 * Stand-in for WHMCS's logModuleCall(), following its documented behaviour:
 * https://developers.whmcs.com/provisioning-modules/module-logging/
 *   logModuleCall($module, $action, $requestString, $responseData, $processedData, $replaceVars)
 *   "passing data strings such as usernames and passwords into the $replaceVars parameter [allows]
 *   them to be automatically scrubbed and omitted from module log entries."
 * WHMCS scrubs by value: each occurrence of each listed string in the stored text is replaced by
 * asterisks of the same length (WHMCS/developer-docs#251). Arrays are stored as print_r text, as
 * real module logs show (e.g. "[password] => ...").
 *
 * Entries go to $GLOBALS['WHMCS_MODULE_LOG']: the stored (masked) texts, plus the raw arguments
 * under 'raw' so tests can check what the module handed over before WHMCS's masking.
 */

if (!function_exists('logModuleCall')) {
    function logModuleCall($module, $action, $requestString, $responseData, $processedData = '', $replaceVars = []): void
    {
        $replace = [];
        foreach ((array) $replaceVars as $value) {
            if (is_scalar($value) && (string) $value !== '') {
                $replace[] = (string) $value;
            }
        }
        $store = static function ($data) use ($replace): string {
            $text = is_array($data) || is_object($data) ? print_r($data, true) : (string) $data;
            foreach ($replace as $secret) {
                $text = str_replace($secret, str_repeat('*', strlen($secret)), $text);
            }

            return $text;
        };

        $GLOBALS['WHMCS_MODULE_LOG'][] = [
            'module' => (string) $module,
            'action' => (string) $action,
            'request' => $store($requestString),
            'response' => $store($responseData),
            'processed' => $store($processedData),
            'raw' => [
                'request' => $requestString,
                'response' => $responseData,
                'processed' => $processedData,
                'replace_vars' => $replace,
            ],
        ];
    }
}
