<?php

declare(strict_types=1);

namespace WHMCS\Module\Server\EmaArchive;

use WHMCS\Module\Server\EmaArchive\Http\CurlTransport;

/**
 * Turns any failure into one short sentence a WHMCS admin understands, ending with the daemon's
 * request id when there is one: "... (request 7f3c...)". Never a stack trace.
 */
final class ErrorMessages
{
    /** @param array{slug?: ?string, service_id?: int} $context */
    public static function forThrowable(\Throwable $e, array $context = []): string
    {
        if ($e instanceof UserFacingException) {
            return self::withRequestId($e->getMessage(), $e->requestId);
        }
        if ($e instanceof ApiException) {
            return self::withRequestId(self::forApi($e, $context), $e->requestId);
        }
        $class = substr(strrchr('\\' . $e::class, '\\'), 1);

        return sprintf(
            'The EMA Archive module failed unexpectedly (%s); see the Module Log for details.',
            $class,
        );
    }

    /** @param array{slug?: ?string, service_id?: int} $context */
    private static function forApi(ApiException $e, array $context): string
    {
        $slug = $context['slug'] ?? null;
        $service = isset($context['service_id']) ? ' #' . $context['service_id'] : '';
        $detail = self::clean($e->detail);

        return match ($e->problemCode) {
            ApiException::UNREACHABLE => sprintf(
                'The archive daemon at %s could not be reached (%s); check the server\'s hostname, port and "Secure" setting.',
                $e->url,
                $detail !== '' ? $detail : 'no connection',
            ),
            ApiException::TIMEOUT => sprintf(
                'The archive daemon at %s did not answer within %d seconds; the request may still finish, '
                . 'so wait a minute and try again (retrying is safe).',
                $e->url,
                CurlTransport::TOTAL_TIMEOUT_SECONDS,
            ),
            ApiException::SERVER_ERROR => sprintf(
                'The archive daemon had an internal error (HTTP %d); try again later, retrying is safe.',
                $e->status,
            ),
            ApiException::INVALID_RESPONSE => sprintf(
                'The archive daemon at %s sent an answer that is not JSON (HTTP %d); check that this server record points at ema-bridge.',
                $e->url,
                $e->status,
            ),
            ApiException::HTTP_ERROR => sprintf(
                'The server at %s answered HTTP %d instead of the archive daemon; check that this server record points at ema-bridge.',
                $e->url,
                $e->status,
            ),
            'unauthorized' => 'The archive daemon refused this server\'s credentials: check that the server\'s Username is '
                . 'the ema-bridge key id and its Password the signing secret, and that the WHMCS server\'s clock is correct.',
            'slug_invalid' => self::slugInvalid((string) $slug, $detail),
            'slug_taken' => sprintf(
                'The tenant slug "%s" is already used by another archive tenant; set a different "Tenant Slug" on this service and try again.',
                (string) $slug,
            ),
            'service_conflict' => sprintf(
                'This WHMCS service%s is already linked to another archive tenant, so it cannot also become "%s"; '
                . 'put that tenant\'s slug in the "Tenant Slug" field.',
                $service,
                (string) $slug,
            ),
            'request_in_progress' => 'The archive is still working on this request; try again in a minute.',
            'tenant_suspended' => 'The archive tenant of this service is suspended; unsuspend it first and try again.',
            'tenant_not_ready' => 'The archive tenant of this service is not ready yet (it is still being created, or its creation '
                . 'failed and support has been alerted); run "Create" again in a minute.',
            'tenant_busy' => 'Another change to this archive tenant is in progress; try again in a minute.',
            'not_found' => sprintf('No archive tenant is linked to WHMCS service%s yet; run "Create" first.', $service),
            'idempotency_key_reused' => 'The archive received a different request under the same request key; try again.',
            'payload_too_large' => 'The request was larger than the archive daemon accepts; shorten the names or reasons sent.',
            'validation_failed' => $detail !== ''
                ? sprintf('The archive rejected the request: %s.', $detail)
                : 'The archive rejected the request as invalid; check the product\'s module settings.',
            default => $detail !== ''
                ? sprintf('The archive refused the request: %s.', $detail)
                : sprintf('The archive refused the request (HTTP %d, %s).', $e->status, $e->problemCode),
        };
    }

    private static function slugInvalid(string $slug, string $detail): string
    {
        if (!SlugResolver::looksValid($slug) && $slug !== '') {
            return sprintf(
                'The tenant slug "%s" is not valid: use 3-48 lowercase letters, digits or hyphens, starting with a letter.',
                $slug,
            );
        }

        if ($detail !== '') {
            // The daemon's sentence already names the slug and the reason.
            return sprintf('%s. Set another "Tenant Slug" on this service.', $detail);
        }

        return sprintf('The tenant slug "%s" cannot be used; set another "Tenant Slug" on this service.', $slug);
    }

    /** A daemon detail as a clause: one line, at most 300 characters, no final period. */
    private static function clean(string $text): string
    {
        $text = trim((string) preg_replace('/\s+/u', ' ', $text));
        if (mb_strlen($text) > 300) {
            $text = mb_substr($text, 0, 300) . '…';
        }

        return rtrim($text, '. ');
    }

    public static function requestIdOf(\Throwable $e): ?string
    {
        return $e instanceof ApiException || $e instanceof UserFacingException ? $e->requestId : null;
    }

    public static function withRequestId(string $sentence, ?string $requestId): string
    {
        return $requestId === null || $requestId === '' ? $sentence : $sentence . ' (request ' . $requestId . ')';
    }
}
