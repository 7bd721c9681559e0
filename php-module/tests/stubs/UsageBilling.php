<?php

/*
 * Stand-ins for WHMCS's usage billing API, after the class docs
 * (https://developers.whmcs.com/classes/whmcs/usagebilling/ : contracts/metrics/providerinterface,
 * metricinterface, usageinterface, unitinterface; metrics/metric, metrics/usage,
 * metrics/units/abstractunit, bytes, gigabytes) and
 * https://developers.whmcs.com/provisioning-modules/usage-metrics/ (units Bytes, MegaBytes,
 * GigaBytes, Accounts, Domains extending the concrete WholeNumber or FloatingPoint).
 * Signatures follow the docs. WHMCS does not document the constants' values nor the formatting
 * rules; the values below are this stand-in's own choices, and the module never depends on them.
 * Each symbol is declared only when WHMCS has not already declared it.
 */

declare(strict_types=1);

namespace WHMCS\UsageBilling\Contracts\Metrics {
    if (!interface_exists(UsageInterface::class)) {
        interface UsageInterface
        {
            /** @return mixed Carbon in WHMCS */
            public function collectedAt();

            public function startAt();

            public function endAt();

            /** @return float */
            public function value();
        }
    }

    if (!interface_exists(UnitInterface::class)) {
        interface UnitInterface
        {
            public const TYPE_CURRENCY = 'currency';
            public const TYPE_FLOAT_PRECISION_LOW = 'float_precision_low';
            public const TYPE_FLOAT_PRECISION_HIGH = 'float_precision_high';
            public const TYPE_INT = 'int';
            public const TYPE_MICROTIME = 'microtime';

            public function name();

            public function perUnitName($value = 0);

            public function prefix();

            public function suffix();

            public function type();

            public function decorate($value);

            public function formatForType($value);

            public function roundForType($value);
        }
    }

    if (!interface_exists(MetricInterface::class)) {
        interface MetricInterface
        {
            public const TYPE_SNAPSHOT = 'snapshot';
            public const TYPE_PERIOD_DAY = 'period_day';
            public const TYPE_PERIOD_MONTH = 'period_month';

            public function usage();

            public function withUsage(?UsageInterface $usage = null);

            public function units();

            public function systemName();

            public function displayName();

            public function type();
        }
    }

    if (!interface_exists(ProviderInterface::class)) {
        interface ProviderInterface
        {
            /** @return MetricInterface[] all metrics supported by the provider, keyed by system name */
            public function metrics();

            /** @return array all usage of the provider, keyed by tenant id */
            public function usage();

            /** @return MetricInterface[] */
            public function tenantUsage($tenant);
        }
    }
}

namespace WHMCS\UsageBilling\Metrics {
    use WHMCS\UsageBilling\Contracts\Metrics\MetricInterface;
    use WHMCS\UsageBilling\Contracts\Metrics\UnitInterface;
    use WHMCS\UsageBilling\Contracts\Metrics\UsageInterface;

    if (!class_exists(Usage::class)) {
        class Usage implements UsageInterface
        {
            private float $value;

            public function __construct($value, private $collectedAt = null, private $startAt = null, private $endAt = null)
            {
                $this->value = (float) $value;
            }

            public function collectedAt()
            {
                return $this->collectedAt;
            }

            public function startAt()
            {
                return $this->startAt;
            }

            public function endAt()
            {
                return $this->endAt;
            }

            public function value()
            {
                return $this->value;
            }
        }
    }

    if (!class_exists(Metric::class)) {
        class Metric implements MetricInterface
        {
            private string $displayName;
            private string $type;
            private UnitInterface $units;

            public function __construct(
                private $systemName,
                $displayName = null,
                $type = null,
                ?UnitInterface $units = null,
                private ?UsageInterface $usage = null,
            ) {
                $this->displayName = (string) ($displayName ?? $systemName);
                $this->type = (string) ($type ?? MetricInterface::TYPE_SNAPSHOT);
                $this->units = $units ?? new Units\WholeNumber($this->displayName);
            }

            public function usage()
            {
                return $this->usage;
            }

            public function withUsage(?UsageInterface $usage = null)
            {
                $copy = clone $this;
                $copy->usage = $usage;

                return $copy;
            }

            public function units()
            {
                return $this->units;
            }

            public function systemName()
            {
                return $this->systemName;
            }

            public function displayName()
            {
                return $this->displayName;
            }

            public function type()
            {
                return $this->type;
            }
        }
    }
}

namespace WHMCS\UsageBilling\Metrics\Units {
    use WHMCS\UsageBilling\Contracts\Metrics\UnitInterface;

    if (!class_exists(AbstractUnit::class)) {
        abstract class AbstractUnit implements UnitInterface
        {
            public function __construct(
                protected $name,
                protected $singlePerUnitName = null,
                protected $pluralPerUnitName = null,
                protected $prefix = null,
                protected $suffix = null,
            ) {
            }

            public function name()
            {
                return $this->name;
            }

            public function perUnitName($value = 0)
            {
                return (float) $value === 1.0 ? ($this->singlePerUnitName ?? $this->name) : ($this->pluralPerUnitName ?? $this->name);
            }

            public function prefix()
            {
                return $this->prefix;
            }

            public function suffix()
            {
                return $this->suffix;
            }

            public function decorate($value)
            {
                return trim(sprintf('%s%s %s', (string) $this->prefix, $this->formatForType($value), (string) ($this->suffix ?? $this->perUnitName($value))));
            }

            public function formatForType($value)
            {
                return match ($this->type()) {
                    self::TYPE_INT => number_format((float) $value, 0, '.', ''),
                    self::TYPE_FLOAT_PRECISION_HIGH => number_format((float) $value, 6, '.', ''),
                    default => number_format((float) $value, 2, '.', ''),
                };
            }

            public function roundForType($value)
            {
                return match ($this->type()) {
                    self::TYPE_INT => (int) round((float) $value),
                    self::TYPE_FLOAT_PRECISION_HIGH => round((float) $value, 6),
                    default => round((float) $value, 2),
                };
            }
        }
    }

    if (!class_exists(WholeNumber::class)) {
        class WholeNumber extends AbstractUnit
        {
            public function type()
            {
                return self::TYPE_INT;
            }
        }
    }

    if (!class_exists(FloatingPoint::class)) {
        class FloatingPoint extends AbstractUnit
        {
            public function type()
            {
                return self::TYPE_FLOAT_PRECISION_LOW;
            }
        }
    }

    if (!class_exists(Accounts::class)) {
        class Accounts extends WholeNumber
        {
            public function __construct($name = 'Accounts', $singlePerUnitName = 'Account', $pluralPerUnitName = 'Accounts', $prefix = null, $suffix = null)
            {
                parent::__construct($name, $singlePerUnitName, $pluralPerUnitName, $prefix, $suffix);
            }
        }
    }

    if (!class_exists(Domains::class)) {
        class Domains extends WholeNumber
        {
            public function __construct($name = 'Domains', $singlePerUnitName = 'Domain', $pluralPerUnitName = 'Domains', $prefix = null, $suffix = null)
            {
                parent::__construct($name, $singlePerUnitName, $pluralPerUnitName, $prefix, $suffix);
            }
        }
    }

    if (!class_exists(Bytes::class)) {
        class Bytes extends FloatingPoint
        {
            public function __construct($name = 'Bytes', $singlePerUnitName = null, $pluralPerUnitName = null, $prefix = null, $suffix = 'B')
            {
                parent::__construct($name, $singlePerUnitName, $pluralPerUnitName, $prefix, $suffix);
            }
        }
    }

    if (!class_exists(MegaBytes::class)) {
        class MegaBytes extends Bytes
        {
            public function __construct($name = 'Megabytes', $singlePerUnitName = null, $pluralPerUnitName = null, $prefix = null, $suffix = 'MB')
            {
                parent::__construct($name, $singlePerUnitName, $pluralPerUnitName, $prefix, $suffix);
            }
        }
    }

    if (!class_exists(GigaBytes::class)) {
        class GigaBytes extends Bytes
        {
            public function __construct($name = 'Gigabytes', $singlePerUnitName = null, $pluralPerUnitName = null, $prefix = null, $suffix = 'GB')
            {
                parent::__construct($name, $singlePerUnitName, $pluralPerUnitName, $prefix, $suffix);
            }
        }
    }
}
