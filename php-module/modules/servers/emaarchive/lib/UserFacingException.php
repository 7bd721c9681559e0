<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use RuntimeException;

/** An error whose message is already a sentence for the WHMCS admin (settings, missing data). */
final class UserFacingException extends RuntimeException
{
    public function __construct(string $sentence, public readonly ?string $requestId = null)
    {
        parent::__construct($sentence);
    }
}
