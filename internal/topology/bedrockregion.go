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
//     au., ca., us-gov., global.) runs in the Regions its prefix routes to
//     (crossRegionDestinations), an ARN names its own Region, and an
//     application inference profile's Regions cannot be read from the file;
//   - endpoint, whose host may name a Region of its own (a VPC endpoint of
//     bedrock-runtime in another Region) or none Meridian can read (an IP
//     address, a proxy).
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

// crossRegionDestinations are the AWS Regions a cross-Region inference
// profile of each geography prefix may route a request to, the union over
// the models that have one. Sources, read 2026-12-07: the Amazon Bedrock
// User Guide, "Supported Regions and models for inference profiles"
// (docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html),
// whose per-model pages list each profile's destinations, and the AWS CDK
// Bedrock construct library's CrossRegionInferenceProfileRegion, which
// lists each prefix's Regions. eu. reaches London (eu-west-2) and Zurich
// (eu-central-2) as well as the EU's Regions; apac. reaches me-central-1.
// A prefix whose Regions could not be verified (ca., whose profiles reach
// United States Regions too) has a nil entry: it needs
// backend.residency_checked. global. may run in any commercial Region and
// has no entry: it is always refused. When Bedrock adds a destination, add
// it here; until then a profile that routes there is judged by this list.
var crossRegionDestinations = map[string][]string{
	"us":     {"us-east-1", "us-east-2", "us-west-1", "us-west-2"},
	"us-gov": {"us-gov-east-1", "us-gov-west-1"},
	"eu":     {"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"},
	"apac": {"ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
		"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "me-central-1"},
	"jp": {"ap-northeast-1", "ap-northeast-3"},
	"au": {"ap-southeast-2", "ap-southeast-4"},
	"ca": nil,
}

// crossRegionPrefix returns the geography prefix of a Bedrock model or
// inference profile id (us for us.anthropic.claude-...), or "".
func crossRegionPrefix(id string) string {
	pfx, _, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	if _, known := crossRegionDestinations[pfx]; known || pfx == "global" {
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
	c.checkEndpoint(p, f+".backend.endpoint", b, dep)
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
		p.add(field, "use the model id without a prefix (it runs in aws_region) or a geographic profile whose Regions all lie in geography "+geo+"; backend.residency_checked does not apply",
			"%q is a global cross-Region inference profile: Bedrock may run it in any commercial AWS Region, outside geography %s", model, geo)
	default:
		c.checkProfileDestinations(p, field, model, pfx, dep, b.ResidencyChecked)
	}
}

// awsEndpointDomains are the domains of AWS service endpoints: a host
// under one of them that names a Region (bedrock-runtime.eu-central-1.
// amazonaws.com, vpce-....bedrock-runtime.eu-central-1.vpce.amazonaws.com)
// is served in that Region.
var awsEndpointDomains = []string{".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".amazonaws.eu"}

// checkEndpoint refuses an endpoint that could take the model out of the
// geography, whatever the model's form: a host naming a Region other than
// aws_region always; a host whose Region cannot be read (an IP address,
// a name outside AWS's endpoint domains, a local test server) unless the
// operator vouched for it (residency_checked), since a proxy there may
// call Bedrock anywhere.
func (c *Config) checkEndpoint(p *problems, field string, b Backend, dep Region) {
	if b.Endpoint == "" {
		return
	}
	geo := dep.Geography
	u, err := url.Parse(b.Endpoint)
	host := ""
	if err == nil {
		host = strings.ToLower(u.Hostname())
	}
	if host == "" {
		p.add(field, "use an https URL of a bedrock-runtime endpoint of "+b.AWSRegion, "%q is not a URL with a host", b.Endpoint)
		return
	}
	named := ""
	for _, label := range strings.Split(host, ".") {
		if awsRegionRE.MatchString(label) {
			named = label
			break
		}
	}
	aws := slices.ContainsFunc(awsEndpointDomains, func(d string) bool { return strings.HasSuffix(host, d) })
	switch {
	case named != "" && named != b.AWSRegion:
		p.add(field, "use a bedrock-runtime endpoint of "+b.AWSRegion+", or set aws_region to the endpoint's Region if it lies in geography "+geo,
			"the endpoint's host names Region %s, not aws_region %s", named, b.AWSRegion)
	case named != "" && aws:
		// An AWS endpoint of aws_region.
	case !b.ResidencyChecked:
		p.add(field, "use a bedrock-runtime endpoint of "+b.AWSRegion+" under amazonaws.com; or check that the server at "+host+" calls Bedrock only in Regions of geography "+geo+", then set backend.residency_checked: true",
			"Meridian cannot read the Region of endpoint host %s (an IP address or a name outside AWS's endpoint domains)", host)
	}
}

// checkProfileDestinations refuses a cross-Region profile of prefix pfx
// unless every Region it may route to lies in dep's geography (by
// outsideGeography's rule), or the operator vouched for it
// (residency_checked).
func (c *Config) checkProfileDestinations(p *problems, field, model, pfx string, dep Region, checked bool) {
	if checked {
		return
	}
	geo := dep.Geography
	dests := crossRegionDestinations[pfx]
	if dests == nil {
		p.add(field, "use the model id without a prefix (it runs in aws_region); or check that every Region the profile routes to lies in geography "+geo+", then set backend.residency_checked: true",
			"%q is a cross-Region inference profile (%s.) whose destination Regions Meridian does not know", model, pfx)
		return
	}
	var outside, addable []string
	var why string
	for _, r := range dests {
		if w := c.outsideGeography(r, dep); w != "" {
			if why == "" {
				why = w
			}
			outside = append(outside, r)
			if !c.inOtherGeography(r, geo) {
				addable = append(addable, r)
			}
		}
	}
	if len(outside) == 0 {
		return
	}
	fix := "use the model id without a prefix (it runs in aws_region)"
	if len(addable) == len(outside) {
		fix = "if these Regions lie in geography " + geo + ", add them to geographies." + geo + ".aws_regions (aws_regions: [" + strings.Join(addable, ", ") + "]); otherwise " + fix
	}
	fix += "; or check that the profile of this model routes only to Regions of geography " + geo + ", then set backend.residency_checked: true"
	p.add(field, fix, "%q is a cross-Region inference profile (%s.) that may run in %s, outside geography %s (%s)",
		model, pfx, strings.Join(outside, ", "), geo, why)
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
// exactly what to add when it may lie in the geography.
func (c *Config) addRegionFix(region string, dep Region) string {
	if c.inOtherGeography(region, dep.Geography) {
		return "use a Region of geography " + dep.Geography + ", e.g. " + c.exampleRegion(dep)
	}
	return "if " + region + " lies in geography " + dep.Geography + ", add it to geographies." + dep.Geography +
		".aws_regions (aws_regions: [" + region + "]); otherwise use a Region of geography " + dep.Geography + ", e.g. " + c.exampleRegion(dep)
}

// inOtherGeography reports whether the topology places the AWS Region
// region in a geography other than geo: a region of the topology there,
// or listed in its aws_regions.
func (c *Config) inOtherGeography(region, geo string) bool {
	if r, ok := c.Region(region); ok {
		return r.Geography != geo
	}
	for g, gg := range c.Geographies {
		if g != geo && slices.Contains(gg.AWSRegions, region) {
			return true
		}
	}
	return false
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
