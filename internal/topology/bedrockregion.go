package topology

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The residency of a Bedrock backend (docs/bedrock.md, "Residency of a
// Bedrock backend"): Meridian labels what a deployment serves with the
// deployment's region, and signs residency receipts for it, so Amazon
// Bedrock must run the deployment's model inside that region's geography.
// Three things decide where Bedrock runs it, and each is checked:
//
//   - aws_region, the Region Bedrock is called in (a model id without a
//     cross-Region prefix runs there);
//   - the model: a cross-Region inference profile (us., eu., apac., jp.,
//     au., ca., us-gov., global.) runs in the Regions of its geography, an
//     ARN names its own Region, and an application inference profile's
//     Regions cannot be read from the file;
//   - endpoint, whose host may name a Region of its own (a VPC endpoint of
//     bedrock-runtime in another Region).
//
// An AWS Region lies in the deployment's geography when, and only when,
// it is a region of the topology in that geography or is listed in the
// geography's aws_regions. Nothing is inferred from a Region id's family:
// eu- holds eu-west-2 (London) and eu-central-2 (Zurich), ap- holds Tokyo
// and Sydney, so a family says nothing about a geography.

// awsRegionRE matches an AWS Region id: eu-central-1, us-gov-west-1,
// ap-southeast-5, us-isob-east-1, cn-north-1, eusc-de-east-1 (the AWS
// European Sovereign Cloud).
var awsRegionRE = regexp.MustCompile(`^(us-gov|us-iso[a-z]?|eusc-[a-z]{2}|[a-z]{2})-[a-z]+-[0-9]+$`)

// awsFamily returns the family of an AWS Region id ("" for a string that
// is not one): us-gov for us-gov-west-1, else the part before the first
// hyphen (eu for eu-central-1).
func awsFamily(id string) string {
	m := awsRegionRE.FindStringSubmatch(id)
	if m == nil {
		return ""
	}
	return m[1]
}

// crossRegionFamilies are the families of the Regions a cross-Region
// inference profile of each geography prefix may run in. apac. reaches
// me-central-1 besides the ap- Regions; ca. is taken to reach the US
// Regions too (Bedrock's Canadian profiles route there), which fails
// closed. global. may run in any commercial Region and has no entry.
var crossRegionFamilies = map[string][]string{
	"us":     {"us"},
	"us-gov": {"us-gov"},
	"eu":     {"eu"},
	"apac":   {"ap", "me"},
	"jp":     {"ap"},
	"au":     {"ap"},
	"ca":     {"ca", "us"},
}

// crossRegionPrefix returns the geography prefix of a Bedrock model or
// inference profile id (us for us.anthropic.claude-...), or "".
func crossRegionPrefix(id string) string {
	pfx, _, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	if _, known := crossRegionFamilies[pfx]; known || pfx == "global" {
		return pfx
	}
	return ""
}

// regionArnTypes are the Bedrock ARN resource types that run in the
// ARN's own Region.
var regionArnTypes = []string{"foundation-model", "provisioned-model", "custom-model", "imported-model", "custom-model-deployment"}

// validateBedrockResidency refuses a Bedrock backend that could run the
// deployment's model outside its region's geography. f is the deployment's
// field path ("deployments[3]").
func (c *Config) validateBedrockResidency(p *problems, f string, d Deployment) {
	b := d.Backend
	if b.ResidencyChecked && b.Type != BackendBedrock {
		p.add(f+".backend.residency_checked", "remove it: Meridian runs the other backends' models where the deployment says", "residency_checked applies only to a bedrock backend")
	}
	dep, ok := c.Region(d.Region)
	if !ok || b.Type != BackendBedrock || b.AWSRegion == "" {
		return
	}
	geo := dep.Geography
	if awsFamily(b.AWSRegion) == "" {
		p.add(f+".backend.aws_region", "use the AWS Region id Bedrock is called in, e.g. "+c.exampleRegion(dep), "%q is not an AWS Region id", b.AWSRegion)
		return
	}
	if why := c.outsideGeography(b.AWSRegion, dep); why != "" {
		p.add(f+".backend.aws_region", c.addRegionFix(b.AWSRegion, dep),
			"%s: Bedrock could run the model outside geography %s, where deployment region %s lies", why, geo, dep.ID)
		return
	}
	model := b.Model
	field := f + ".backend.model"
	if strings.HasPrefix(model, "arn:") {
		parts := strings.SplitN(model, ":", 6)
		if len(parts) != 6 || parts[2] != "bedrock" {
			p.add(field, "use a Bedrock model id, inference profile id or Bedrock ARN", "%q is not a Bedrock ARN", model)
			return
		}
		region, resource := parts[3], parts[5]
		typ, id, _ := strings.Cut(resource, "/")
		if region != "" {
			if awsFamily(region) == "" {
				p.add(field, "use an ARN in a Region of geography "+geo, "the ARN's Region %q is not an AWS Region id", region)
				return
			}
			if why := c.outsideGeography(region, dep); why != "" {
				p.add(field, c.addRegionFix(region, dep), "the ARN's Region is not in geography %s: %s", geo, why)
				return
			}
		}
		switch {
		case slices.Contains(regionArnTypes, typ):
			return
		case typ == "inference-profile":
			model = id
		case b.ResidencyChecked:
			return
		case typ == "application-inference-profile":
			p.add(field, "check that every Region the profile routes to lies in geography "+geo+", then set backend.residency_checked: true; or use a model or inference profile id",
				"Meridian cannot tell where application inference profile %s runs the model", id)
			return
		default:
			p.add(field, "use a model or inference profile id or ARN; for another Bedrock resource, check that it runs the model in geography "+geo+", then set backend.residency_checked: true",
				"Meridian cannot tell where a Bedrock %q resource runs the model", typ)
			return
		}
	}
	switch pfx := crossRegionPrefix(model); pfx {
	case "":
		// A model without a prefix runs in the Region it is called in.
	case "global":
		p.add(field, "use the "+geoPrefixHint(b.AWSRegion)+" profile or the model id without a prefix (it runs in aws_region); backend.residency_checked does not apply",
			"%q is a global cross-Region inference profile: Bedrock may run it in any commercial AWS Region, outside geography %s", model, geo)
	default:
		base := awsFamily(b.AWSRegion)
		fams := crossRegionFamilies[pfx]
		var outside []string
		for _, fam := range fams {
			if fam != base { // item 2 replaces this family rule
				outside = append(outside, fam+"-")
			}
		}
		switch {
		case len(outside) == 0:
		case !slices.Contains(fams, base):
			p.add(field, "use the "+geoPrefixHint(b.AWSRegion)+" profile or the model id without a prefix (it runs in aws_region)",
				"%q is a cross-Region inference profile (%s.): Bedrock runs it in %s Regions, outside geography %s", model, pfx, strings.Join(fams, "- and ")+"-", geo)
		case !b.ResidencyChecked:
			p.add(field, "use the model id without a prefix (it runs in aws_region) or a narrower profile; or check the profile's destination Regions lie in geography "+geo+", then set backend.residency_checked: true",
				"%q is a cross-Region inference profile (%s.) that may run in %s Regions, which Meridian cannot place in geography %s", model, pfx, strings.Join(outside, " and "), geo)
		}
	}
	if b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err == nil {
			for _, label := range strings.Split(u.Hostname(), ".") {
				if awsFamily(label) != "" && label != b.AWSRegion {
					p.add(f+".backend.endpoint", "use a bedrock-runtime endpoint of "+b.AWSRegion+", or set aws_region to the endpoint's Region if it lies in geography "+geo,
						"the endpoint's host names Region %s, not aws_region %s", label, b.AWSRegion)
					break
				}
			}
		}
	}
}

// outsideGeography says why the AWS Region region is not in dep's
// geography, or returns "" when it is (see the comment at the top): a
// region of the topology in that geography, or one its aws_regions lists.
func (c *Config) outsideGeography(region string, dep Region) string {
	if r, ok := c.Region(region); ok {
		if r.Geography != dep.Geography {
			return fmt.Sprintf("%s is a region of geography %s", region, r.Geography)
		}
		return ""
	}
	if slices.Contains(c.Geographies[dep.Geography].AWSRegions, region) {
		return ""
	}
	for _, g := range slices.Sorted(maps.Keys(c.Geographies)) {
		if slices.Contains(c.Geographies[g].AWSRegions, region) {
			return fmt.Sprintf("%s is listed in geographies.%s.aws_regions", region, g)
		}
	}
	return fmt.Sprintf("%s is neither a region of the topology nor listed in geographies.%s.aws_regions", region, dep.Geography)
}

// addRegionFix is the fix for an AWS Region outside dep's geography:
// exactly what to add when it does lie in the geography.
func (c *Config) addRegionFix(region string, dep Region) string {
	if r, ok := c.Region(region); ok && r.Geography != dep.Geography {
		return "use a Region of geography " + dep.Geography + ", e.g. " + c.exampleRegion(dep)
	}
	for g, geo := range c.Geographies {
		if g != dep.Geography && slices.Contains(geo.AWSRegions, region) {
			return "use a Region of geography " + dep.Geography + ", e.g. " + c.exampleRegion(dep)
		}
	}
	return "if " + region + " lies in geography " + dep.Geography + ", add it to geographies." + dep.Geography +
		".aws_regions (aws_regions: [" + region + "]); otherwise use a Region of geography " + dep.Geography + ", e.g. " + c.exampleRegion(dep)
}

// validateGeographyAWSRegions checks each geography's aws_regions: AWS
// Region ids, each in one geography only, none a region of the topology
// in another geography.
func (c *Config) validateGeographyAWSRegions(p *problems, geos []string) {
	listed := map[string]string{}
	for _, g := range geos {
		for i, id := range c.Geographies[g].AWSRegions {
			f := fmt.Sprintf("geographies.%s.aws_regions[%d]", g, i)
			if !awsRegionRE.MatchString(id) {
				p.add(f, "use an AWS Region id, e.g. eu-central-1, us-gov-west-1, cn-north-1 or eusc-de-east-1", "%q is not an AWS Region id", id)
				continue
			}
			if other, ok := listed[id]; ok {
				p.add(f, "list it under the one geography it lies in", "%s is listed under geographies %s and %s", id, other, g)
				continue
			}
			listed[id] = g
			if r, ok := c.Region(id); ok && r.Geography != g {
				p.add(f, "remove it: a region of the topology lies in its own geography", "%s is a region of the topology in geography %s", id, r.Geography)
			}
		}
	}
}

// exampleRegion is an AWS Region of dep's geography, for a fix: dep's own
// id when it is one, else a region of the topology in its geography.
func (c *Config) exampleRegion(dep Region) string {
	if awsFamily(dep.ID) != "" {
		return dep.ID
	}
	for _, r := range c.Regions {
		if r.Geography == dep.Geography && awsFamily(r.ID) != "" {
			return r.ID
		}
	}
	if l := c.Geographies[dep.Geography].AWSRegions; len(l) > 0 {
		return l[0]
	}
	return "a region of the topology in geography " + dep.Geography + " named by its AWS Region id"
}

// geoPrefixHint names the cross-Region profile of the family of region
// (eu. for eu-central-1), for a fix.
func geoPrefixHint(region string) string {
	switch fam := awsFamily(region); fam {
	case "us", "us-gov", "eu":
		return fam + "."
	}
	return "matching geographic"
}
