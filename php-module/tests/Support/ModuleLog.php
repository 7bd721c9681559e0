<?php

declare(strict_types=1);

namespace EmaArchiveTests\Support;

/** Reads what the logModuleCall stand-in recorded. */
final class ModuleLog
{
    public static function reset(): void
    {
        $GLOBALS['WHMCS_MODULE_LOG'] = [];
    }

    /** @return list<array<string, mixed>> */
    public static function entries(): array
    {
        return $GLOBALS['WHMCS_MODULE_LOG'] ?? [];
    }

    /**
     * Everything an admin could read in the module log, plus everything the module handed to
     * logModuleCall before WHMCS's masking (the raw request, response and processed data), but
     * not the $replaceVars list itself, which by design holds the secrets.
     */
    public static function visibleText(): string
    {
        $parts = [];
        foreach (self::entries() as $entry) {
            $parts[] = $entry['request'] . "\n" . $entry['response'] . "\n" . $entry['processed'];
            $parts[] = print_r([$entry['raw']['request'], $entry['raw']['response'], $entry['raw']['processed']], true);
            $parts[] = json_encode([$entry['raw']['request'], $entry['raw']['response'], $entry['raw']['processed']], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR);
        }

        return implode("\n", $parts);
    }

    /** @return list<string> */
    public static function actions(): array
    {
        return array_column(self::entries(), 'action');
    }
}
