<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

/** A successful (2xx) daemon answer. */
final class ApiResponse
{
    /** @param array<string, mixed> $data decoded JSON body */
    public function __construct(
        public readonly int $status,
        public readonly array $data,
        public readonly ?string $requestId,
    ) {
    }
}
