<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive\Http;

/**
 * Sends one HTTP request. Implementations throw TransportException when no HTTP answer arrives
 * (connection refused, DNS, TLS, timeout); any HTTP status, 5xx included, is a normal return.
 */
interface Transport
{
    public function send(HttpRequest $request): HttpResponse;
}
