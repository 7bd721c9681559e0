<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive\Http;

use RuntimeException;

/** No HTTP answer was received. */
final class TransportException extends RuntimeException
{
    public function __construct(string $message, public readonly bool $timedOut = false)
    {
        parent::__construct($message);
    }
}
