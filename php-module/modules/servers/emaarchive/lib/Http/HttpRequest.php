<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive\Http;

final class HttpRequest
{
    /** @param array<string, string> $headers header name => value */
    public function __construct(
        public readonly string $method,
        public readonly string $url,
        public readonly array $headers,
        public readonly string $body,
    ) {
    }

    public function header(string $name): ?string
    {
        foreach ($this->headers as $key => $value) {
            if (strcasecmp($key, $name) === 0) {
                return $value;
            }
        }

        return null;
    }
}
